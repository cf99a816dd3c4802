"""The ReplicaSet controller: keeps ``spec.replicas`` pods per ReplicaSet and reports
``status`` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
observedGeneration) like ``pkg/controller/replicaset`` does."""

from __future__ import annotations

import calendar
import copy
import time
from typing import Any

from .events import EventRecorder
from .selectors import LabelSelector, Requirement
from .store import Obj, Store
from .strategy import random_suffix

COMPONENT = "replicaset-controller"


def controller_uid(obj: Obj) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def parse_time(text: str | None) -> float:
    if not text:
        return 0.0
    return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))


def pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    if not pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    for cond in pod["status"].get("conditions") or []:
        if cond.get("type") == "Ready":
            return parse_time(cond.get("lastTransitionTime")) + min_ready_seconds <= now
    return False


def _restarts(pod: Obj) -> int:
    return sum(s.get("restartCount", 0) for s in (pod.get("status") or {}).get("containerStatuses") or [])


def _deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """``controller.ActivePods`` order: the pods to delete first sort first."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase", ""), 0)
    ready_since = 0.0
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            ready_since = parse_time(cond.get("lastTransitionTime"))
    return (
        bool(pod["spec"].get("nodeName")),
        phase_rank,
        pod_ready(pod),
        -ready_since,
        -_restarts(pod),
        tuple(-ord(ch) for ch in pod["metadata"].get("creationTimestamp", "")),
    )


class ReplicaSetController:
    def __init__(self, store: Store, recorder: EventRecorder) -> None:
        self.store, self.recorder = store, recorder

    def sync_all(self) -> None:
        owned: dict[str, list[Obj]] = {}
        for pod in self.store.objects("pods"):
            uid = controller_uid(pod)
            if uid and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                owned.setdefault(uid, []).append(pod)
        for rs in self.store.objects("replicasets"):
            self.sync(rs, owned.get(rs["metadata"]["uid"], []))

    def sync(self, rs: Obj, pods: list[Obj]) -> None:
        meta, spec = rs["metadata"], rs["spec"]
        want = spec.get("replicas", 1)
        pods = list(pods)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self._create_pod(rs))
        elif len(pods) > want:
            pods.sort(key=_deletion_rank)
            for pod in pods[: len(pods) - want]:
                self.store.delete("pods", meta["namespace"], pod["metadata"]["name"])
                self.recorder.record(
                    rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", COMPONENT
                )
            pods = pods[len(pods) - want :]
        self._update_status(rs, pods)

    def _create_pod(self, rs: Obj) -> Obj:
        meta, template = rs["metadata"], rs["spec"]["template"]
        tmeta = template.get("metadata") or {}
        pod_meta: dict[str, Any] = {
            "name": f"{meta['name']}-{random_suffix()}",
            "generateName": f"{meta['name']}-",
            "namespace": meta["namespace"],
            "labels": dict(tmeta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if tmeta.get("annotations"):
            pod_meta["annotations"] = dict(tmeta["annotations"])
        while self.store.try_get("pods", meta["namespace"], pod_meta["name"]) is not None:
            pod_meta["name"] = f"{meta['name']}-{random_suffix()}"
        pod = self.store.create(
            "pods", {"metadata": pod_meta, "spec": copy.deepcopy(template.get("spec") or {})}, meta["namespace"]
        )
        self.recorder.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT)
        return pod

    def _update_status(self, rs: Obj, pods: list[Obj]) -> None:
        now = self.store.clock()
        labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        template_selector = LabelSelector(tuple(Requirement(k, "=", (v,)) for k, v in labels.items()))
        min_ready = rs["spec"].get("minReadySeconds", 0)
        counts = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(1 for p in pods if template_selector.matches(p["metadata"].get("labels"))),
            "readyReplicas": sum(1 for p in pods if pod_ready(p)),
            "availableReplicas": sum(1 for p in pods if pod_available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        # Go's omitempty: zero counts are absent, except replicas which is always present.
        status = {k: v for k, v in counts.items() if v or k == "replicas"}
        if (rs.get("status") or {}).get("conditions"):
            status["conditions"] = rs["status"]["conditions"]
        if status != rs.get("status"):
            updated = copy.deepcopy(rs)
            updated["status"] = status
            self.store.update("replicasets", updated, rs["metadata"]["namespace"], subresource="status")
