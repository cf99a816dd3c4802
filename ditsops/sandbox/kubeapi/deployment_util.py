"""Helpers of the deployment controller, after ``pkg/controller/deployment/util``:
fenceposts (maxSurge/maxUnavailable), revisions, replica counts, conditions."""

from __future__ import annotations

import math
from typing import Any

from . import strategy
from .store import Obj

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIP_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
MAX_REV_HISTORY_CHARS = 2000
RS = Obj | None


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        amount = int(text[:-1]) * total / 100
        return math.ceil(amount) if round_up else math.floor(amount)
    return int(text)


def is_rolling(d: Obj) -> bool:
    return (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = d["spec"].get("replicas", 1)
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", 0), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # validation forbids 0/0; rounding down may still produce it
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    desired = d["spec"].get("replicas", 1)
    if not is_rolling(d) or desired == 0:
        return 0
    return min(resolve_fenceposts(d)[1], desired)


def revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def replicas(rs: RS) -> int:
    return rs["spec"].get("replicas", 1) if rs else 0


def status_of(rs: RS, field: str) -> int:
    return (rs.get("status") or {}).get(field, 0) if rs else 0


def total(rss: list[RS], field: str | None = None) -> int:
    return sum(status_of(rs, field) if field else replicas(rs) for rs in rss if rs)


def active(rss: list[RS]) -> list[Obj]:
    return [rs for rs in rss if rs and replicas(rs) > 0]


def by_creation(rs: Obj) -> tuple[str, str]:
    """``ReplicaSetsByCreationTimestamp``: oldest first, ties broken by name."""
    return rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]


def by_size_newer(rss: list[Obj]) -> list[Obj]:
    """``ReplicaSetsBySizeNewer``: largest first, ties newest first."""
    return sorted(sorted(rss, key=by_creation, reverse=True), key=lambda rs: -replicas(rs))


def by_size_older(rss: list[Obj]) -> list[Obj]:
    """``ReplicaSetsBySizeOlder``: largest first, ties oldest first."""
    return sorted(sorted(rss, key=by_creation), key=lambda rs: -replicas(rs))


def annotation_int(rs: Obj, key: str) -> int | None:
    try:
        return int((rs["metadata"].get("annotations") or {})[key])
    except (KeyError, ValueError):
        return None


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def find_new_replica_set(d: Obj, rs_list: list[Obj]) -> RS:
    for rs in sorted(rs_list, key=by_creation):  # the oldest one if several match
        if strategy.templates_equal_ignoring_hash(rs["spec"]["template"], d["spec"]["template"]):
            return rs
    return None


def get_condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def new_condition(type_: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    current = get_condition(status, cond["type"])
    if current and current["status"] == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current and current["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": current["lastTransitionTime"]}
    status["conditions"] = [c for c in status.get("conditions") or [] if c["type"] != cond["type"]] + [cond]


def remove_condition(status: dict[str, Any], type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c["type"] != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    value = d["spec"].get("progressDeadlineSeconds")
    return value is not None and value != 2**31 - 1


def deployment_complete(d: Obj, status: dict[str, Any]) -> bool:
    want = d["spec"].get("replicas", 1)
    return (
        status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
        and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
    )


def deployment_progressing(d: Obj, new: dict[str, Any]) -> bool:
    old = d.get("status") or {}
    g = lambda s, k: s.get(k, 0)  # noqa: E731
    return (
        g(new, "updatedReplicas") > g(old, "updatedReplicas")
        or g(new, "replicas") - g(new, "updatedReplicas") < g(old, "replicas") - g(old, "updatedReplicas")
        or g(new, "readyReplicas") > g(old, "readyReplicas")
        or g(new, "availableReplicas") > g(old, "availableReplicas")
    )


def round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))
