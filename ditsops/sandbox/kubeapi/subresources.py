"""Subresources with their own shapes: ``scale`` (autoscaling/v1 Scale), ``log`` (plain
text from the kubelet's buffers) and the sandbox's own log-append endpoint."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator
from typing import Any

from .errors import ApiError, bad_request, conflict, invalid
from .logs import LogBook
from .patch import apply_patch
from .replicaset import parse_time
from .resources import BY_PLURAL, PODS, ResourceType
from .selectors import LabelSelector, selector_string
from .store import Obj, Store

_SCALE = ResourceType("scale", "scale", "Scale", "autoscaling", "v1", True)


# ------------------------------------------------------------------ scale


def scale_of(obj: Obj) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": selector_string(obj["spec"].get("selector")),
        },
    }


def update_scale(store: Store, plural: str, namespace: str, name: str, scale: Any, *, dry_run: bool) -> dict:
    """PUT on /scale: a stale metadata.resourceVersion is a 409 like any update."""
    if not isinstance(scale, dict) or not isinstance(scale.get("spec", {}), dict):
        raise bad_request("the body of the request must be an autoscaling/v1 Scale")
    with store:
        obj = store.get(plural, namespace, name)
        sent_rv = (scale.get("metadata") or {}).get("resourceVersion")
        rt = BY_PLURAL[plural]
        if sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(
                _SCALE, name, [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")]
            )
        changed = copy.deepcopy(obj)
        changed["spec"]["replicas"] = replicas
        return scale_of(store.update(plural, changed, namespace, name, dry_run=dry_run))


def patch_scale(
    store: Store, plural: str, namespace: str, name: str, content_type: str, body: bytes, *, dry_run: bool
) -> dict:
    with store:
        current = scale_of(store.get(plural, namespace, name))
        return update_scale(store, plural, namespace, name, apply_patch(content_type, current, body), dry_run=dry_run)


# ------------------------------------------------------------------ log


def _int(query: dict[str, str], key: str) -> int | None:
    if key not in query:
        return None
    try:
        return int(query[key])
    except ValueError:
        raise bad_request(f"{key}: invalid value {query[key]!r}") from None


def _container(pod: Obj, query: dict[str, str]) -> str:
    names = [c["name"] for c in pod["spec"].get("containers") or []]
    name = pod["metadata"]["name"]
    wanted = query.get("container")
    if not wanted:
        if len(names) != 1:
            raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")
        return names[0]
    if wanted not in names:
        raise bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def read_log(store: Store, logs: LogBook, namespace: str, name: str, query: dict[str, str]) -> str:
    """The body of GET pods/{name}/log, or the kubelet's 400 when there is nothing to show."""
    return _read_log(store, logs, namespace, name, query)[0]


def _read_log(
    store: Store, logs: LogBook, namespace: str, name: str, query: dict[str, str]
) -> tuple[str, tuple[int, int]]:
    """read_log's text and the follow cursor right after it."""
    pod = store.get("pods", namespace, name)
    container = _container(pod, query)
    key = (namespace, name, container)
    previous = query.get("previous", "false").lower() in ("true", "1")
    status = next(
        (s for s in (pod.get("status") or {}).get("containerStatuses") or [] if s.get("name") == container), None
    )
    waiting = ((status or {}).get("state") or {}).get("waiting") or {}
    if previous and not logs.has_previous(key):
        raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    if not previous and (
        status is None
        or waiting.get("reason") in ("ContainerCreating", "ErrImagePull", "ImagePullBackOff", "PodInitializing")
    ):
        reason = waiting.get("reason") or "ContainerCreating"
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    since: float | None = None
    if "sinceSeconds" in query:
        seconds = _int(query, "sinceSeconds") or 0
        if seconds < 1:  # ValidatePodLogOptions
            raise ApiError(
                422,
                "Invalid",
                f'PodLogOptions "{name}" is invalid: sinceSeconds: Invalid value: {seconds}: must be greater than 0',
            )
        since = time.time() - seconds
    elif query.get("sinceTime"):
        since = parse_time(query["sinceTime"])
    return logs.read_with_cursor(
        key,
        previous=previous,
        tail_lines=_int(query, "tailLines"),
        since=since,
        timestamps=query.get("timestamps", "false").lower() in ("true", "1"),
        limit_bytes=_int(query, "limitBytes"),
    )


def follow_log(
    store: Store, logs: LogBook, namespace: str, name: str, query: dict[str, str], stopping: Any, alive: Any
) -> Iterator[bytes]:
    """``follow=true``: what is there now, then new lines until the pod or the client goes."""
    first, cursor = _read_log(store, logs, namespace, name, query)
    pod = store.get("pods", namespace, name)
    key = (namespace, name, _container(pod, query))
    uid = pod["metadata"]["uid"]
    timestamps = query.get("timestamps", "false").lower() in ("true", "1")
    if first:
        yield first.encode()
    while not stopping.is_set() and alive():
        time.sleep(0.1)
        current = store.try_get("pods", namespace, name)
        if current is None or current["metadata"]["uid"] != uid:
            return
        text, cursor = logs.follow_from(key, cursor, timestamps)
        if text:
            yield text.encode()


# ------------------------------------------------------------------ sandbox log append


class LogAppender:
    """Feeds simulated application output into running pods' logs.

    ``spread=False`` appends every line to every matching running pod (each replica logs
    the same thing); ``spread=True`` deals lines round-robin over them, continuing the
    rotation across calls, like requests spread by a Service."""

    def __init__(self, store: Store, logs: LogBook) -> None:
        self.store, self.logs = store, logs
        self._rotation: dict[tuple[str, str], itertools.count] = {}

    def append(
        self,
        namespace: str,
        selector: LabelSelector,
        lines: list[str],
        *,
        container: str | None = None,
        spread: bool = False,
    ) -> list[str]:
        pods = [
            p
            for p in self.store.objects(PODS.plural, namespace)
            if selector.matches(p["metadata"].get("labels")) and _running(p)
        ]
        if not pods:
            return []
        targets = []
        for pod in pods:
            names = [c["name"] for c in pod["spec"]["containers"]]
            targets.append((pod["metadata"]["name"], container if container in names else names[0]))
        now = time.time()
        if not spread:
            for pod_name, cname in targets:
                self.logs.append((namespace, pod_name, cname), lines, now)
            return [t[0] for t in targets]
        counter = self._rotation.setdefault((namespace, str(selector)), itertools.count())
        used: set[str] = set()
        for line in lines:
            pod_name, cname = targets[next(counter) % len(targets)]
            self.logs.append((namespace, pod_name, cname), [line], now)
            used.add(pod_name)
        return sorted(used)


def _running(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        "running" in (s.get("state") or {}) for s in status.get("containerStatuses") or []
    )


def parse_lines(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        raise bad_request('the body must be a JSON object {"lines": ["..."]}')
    return [str(line) for line in body["lines"]]
