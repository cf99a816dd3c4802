"""Server-side printing: ``meta.k8s.io/v1 Table`` for ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``; without a Table it
falls back to NAME and AGE only. Columns and cells follow the apiserver's printers
(``pkg/printers/internalversion/printers.go``); columns with priority 1 show with ``-o wide``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .replicaset import parse_time
from .selectors import selector_string
from .store import Obj

Column = tuple[str, str, str, int]  # name, type, format, priority


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration``, as the AGE column prints it."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(timestamp: str | None, now: float) -> str:
    return "<unknown>" if not timestamp else human_duration(now - parse_time(timestamp))


def _containers(template_spec: dict[str, Any]) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _deployment(d: Obj, now: float) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _replicaset(rs: Obj, now: float) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [
        rs["metadata"]["name"],
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _pod(pod: Obj, now: float) -> list[Any]:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase", "")
    statuses = status.get("containerStatuses") or []
    ready = restarts = 0
    last_restart = 0.0
    has_running = False
    for cs in reversed(statuses):
        restarts += cs.get("restartCount", 0)
        terminated_before = (cs.get("lastState") or {}).get("terminated")
        if terminated_before:
            last_restart = max(last_restart, parse_time(terminated_before.get("finishedAt")))
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif cs.get("ready") and "running" in state:
            has_running = True
            ready += 1
    if reason == "Completed" and has_running:
        reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    total = len((pod.get("spec") or {}).get("containers") or [])
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod["metadata"].get("creationTimestamp"), now),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _namespace(ns: Obj, now: float) -> list[Any]:
    return [
        ns["metadata"]["name"],
        (ns.get("status") or {}).get("phase", ""),
        _age(ns["metadata"].get("creationTimestamp"), now),
    ]


def _event(ev: Obj, now: float) -> list[Any]:
    first = _age(ev.get("firstTimestamp"), now)
    last = _age(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    obj = ev.get("involvedObject") or {}
    target = f"{obj.get('kind', '').lower()}/{obj['name']}" if obj.get("name") else obj.get("kind", "").lower()
    source = ev.get("source") or {}
    source_text = source.get("component") or ev.get("reportingComponent", "")
    if source.get("host"):
        source_text += ", " + source["host"]
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        obj.get("fieldPath", ""),
        source_text,
        (ev.get("message") or "").strip(),
        first,
        ev.get("count", 1),
        ev["metadata"]["name"],
    ]


def _job_status(job: Obj) -> str:
    """``printJob``'s STATUS column (kubectl 1.28+)."""
    true = {c.get("type") for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}
    if job["metadata"].get("deletionTimestamp") and not true & {"Complete", "Failed"}:
        return "Terminating"
    for condition in ("Complete", "Failed", "Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if condition in true:
            return condition
    return "Running"


def _job(job: Obj, now: float) -> list[Any]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        completions = (
            f"{succeeded}/1 of {spec.get('parallelism', 1)}" if spec.get("parallelism", 1) > 1 else f"{succeeded}/1"
        )
    duration = ""
    if status.get("startTime"):
        end = parse_time(status["completionTime"]) if status.get("completionTime") else now
        duration = human_duration(end - parse_time(status["startTime"]))
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [
        job["metadata"]["name"],
        _job_status(job),
        completions,
        duration,
        _age(job["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _cronjob(cj: Obj, now: float) -> list[Any]:
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers((job_spec.get("template") or {}).get("spec") or {})
    last = _age(status["lastScheduleTime"], now) if status.get("lastScheduleTime") else "<none>"
    return [
        cj["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or []),
        last,
        _age(cj["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string(job_spec.get("selector")) or "<none>",
    ]


def _lease(lease: Obj, now: float) -> list[Any]:
    """``printLease``: NAME, HOLDER (empty when nobody holds it), AGE."""
    holder = (lease.get("spec") or {}).get("holderIdentity") or ""
    return [lease["metadata"]["name"], holder, _age(lease["metadata"].get("creationTimestamp"), now)]


def _default(obj: Obj, now: float) -> list[Any]:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")]


_NAME: Column = ("Name", "string", "name", 0)
_AGE: Column = ("Age", "string", "", 0)
_WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", "", 1),
    ("Images", "string", "", 1),
    ("Selector", "string", "", 1),
]
PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, float], list[Any]]]] = {
    "deployments": (
        [_NAME, ("Ready", "string", "", 0), ("Up-to-date", "integer", "", 0), ("Available", "integer", "", 0), _AGE]
        + _WORKLOAD_WIDE,
        _deployment,
    ),
    "replicasets": (
        [_NAME, ("Desired", "integer", "", 0), ("Current", "integer", "", 0), ("Ready", "integer", "", 0), _AGE]
        + _WORKLOAD_WIDE,
        _replicaset,
    ),
    "pods": (
        [
            _NAME,
            ("Ready", "string", "", 0),
            ("Status", "string", "", 0),
            ("Restarts", "string", "", 0),
            _AGE,
            ("IP", "string", "", 1),
            ("Node", "string", "", 1),
            ("Nominated Node", "string", "", 1),
            ("Readiness Gates", "string", "", 1),
        ],
        _pod,
    ),
    "namespaces": ([_NAME, ("Status", "string", "", 0), _AGE], _namespace),
    "jobs": (
        [_NAME, ("Status", "string", "", 0), ("Completions", "string", "", 0), ("Duration", "string", "", 0), _AGE]
        + _WORKLOAD_WIDE,
        _job,
    ),
    "cronjobs": (
        [
            _NAME,
            ("Schedule", "string", "", 0),
            ("Timezone", "string", "", 0),
            ("Suspend", "boolean", "", 0),
            ("Active", "integer", "", 0),
            ("Last Schedule", "string", "", 0),
            _AGE,
        ]
        + _WORKLOAD_WIDE,
        _cronjob,
    ),
    "leases": ([_NAME, ("Holder", "string", "", 0), _AGE], _lease),
    "events": (
        [
            ("Last Seen", "string", "", 0),
            ("Type", "string", "", 0),
            ("Reason", "string", "", 0),
            ("Object", "string", "", 0),
            ("Subobject", "string", "", 1),
            ("Source", "string", "", 1),
            ("Message", "string", "", 0),
            ("First Seen", "string", "", 1),
            ("Count", "integer", "", 1),
            ("Name", "string", "", 1),
        ],
        _event,
    ),
}


def _row_object(obj: Obj, include: str) -> Any:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def to_table(
    plural: str,
    items: list[Obj],
    list_meta: dict[str, Any],
    include_object: str = "Metadata",
    *,
    with_columns: bool = True,
) -> dict[str, Any]:
    columns, printer = PRINTERS.get(plural, ([_NAME, ("Created At", "date", "", 0)], _default))
    now = time.time()
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": "", "priority": p} for n, t, f, p in columns
        ]
        if with_columns
        else [],
        "rows": [{"cells": printer(obj, now), "object": _row_object(obj, include_object)} for obj in items],
    }
    return table
