"""A minimal Job controller, after ``pkg/controller/job``: one pod at a time.

A Job that is not finished and not suspended gets a pod from its template (labels from
the template, which carry ``job-name`` and ``controller-uid``; a controller
ownerReference to the Job). Status follows the pod as the real controller reports it:
``startTime``, ``active``/``ready`` while it runs; on success ``succeeded``,
``completionTime`` and the ``SuccessCriteriaMet`` and ``Complete`` conditions; a failed pod
counts in ``failed`` and is replaced until more than ``backoffLimit`` have failed, then the
Job gets ``FailureTarget`` and ``Failed`` (reason BackoffLimitExceeded). Parallelism,
indexed completions, pod failure policies, ``activeDeadlineSeconds`` and TTLs are not
simulated; a Job wanting more than one completion runs its pods one after another.

CronJobs are stored and listed but never scheduled: the sandbox has no cronjob
controller, so ``dits-gc`` only runs when someone creates a Job from it
(``kubectl create job NAME --from=cronjob/dits-gc``).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError
from .events import EventRecorder
from .replicaset import controller_uid, pod_ready
from .store import Obj, Store
from .strategy import random_suffix, rfc3339

COMPONENT = "job-controller"


def job_finished(job: Obj) -> str | None:
    """ "Complete" or "Failed" once the Job has that condition with status True."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"]
    return None


class JobController:
    def __init__(self, store: Store, recorder: EventRecorder) -> None:
        self.store, self.recorder = store, recorder

    def sync_all(self) -> None:
        owned: dict[str, list[Obj]] = {}
        for pod in self.store.objects("pods"):
            uid = controller_uid(pod)
            if uid:
                owned.setdefault(uid, []).append(pod)
        for job in self.store.objects("jobs"):
            if job_finished(job):
                continue
            try:
                self.sync(copy.deepcopy(job), owned.get(job["metadata"]["uid"], []))
            except ApiError:
                continue  # requeued upstream; the next pass retries

    def sync(self, job: Obj, pods: list[Obj]) -> None:
        spec, now = job["spec"], self.store.clock()
        status: dict[str, Any] = copy.deepcopy(job.get("status") or {})
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        active = [p for p, phase in zip(pods, phases, strict=True) if phase not in ("Succeeded", "Failed")]
        succeeded = phases.count("Succeeded")
        failed = phases.count("Failed")
        want = spec.get("completions") or 1
        if spec.get("suspend"):
            return
        status.setdefault("startTime", rfc3339(now))
        if succeeded >= want:
            status["conditions"] = status.get("conditions") or []
            for type_ in ("SuccessCriteriaMet", "Complete"):
                status["conditions"].append(
                    self._condition(type_, "CompletionsReached", "Reached expected number of succeeded pods", now)
                )
            status["completionTime"] = rfc3339(now)
            self.recorder.record(job, "Normal", "Completed", "Job completed", COMPONENT)
        elif failed > spec.get("backoffLimit", 6):
            status["conditions"] = status.get("conditions") or []
            for type_ in ("FailureTarget", "Failed"):
                status["conditions"].append(
                    self._condition(type_, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now)
                )
            self.recorder.record(
                job, "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit", COMPONENT
            )
        elif not active:
            active = [self._create_pod(job)]
        counts = {
            "active": len(active) if not job_finished({"status": status}) else 0,
            "succeeded": succeeded,
            "failed": failed,
        }
        for key, value in counts.items():  # omitempty, as the Go status
            if value:
                status[key] = value
            else:
                status.pop(key, None)
        status["ready"] = sum(1 for p in active if pod_ready(p)) if not job_finished({"status": status}) else 0
        status["terminating"] = 0
        status.setdefault("uncountedTerminatedPods", {})
        if status != job.get("status"):
            job["status"] = status
            self.store.update("jobs", job, job["metadata"]["namespace"], subresource="status")

    @staticmethod
    def _condition(type_: str, reason: str, message: str, now: float) -> dict[str, Any]:
        stamp = rfc3339(now)
        return {
            "type": type_,
            "status": "True",
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }

    def _create_pod(self, job: Obj) -> Obj:
        meta, template = job["metadata"], job["spec"]["template"]
        tmeta = template.get("metadata") or {}
        pod_meta: dict[str, Any] = {
            "name": f"{meta['name']}-{random_suffix()}",
            "generateName": f"{meta['name']}-",
            "namespace": meta["namespace"],
            "labels": dict(tmeta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
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
        self.recorder.record(job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT)
        return pod
