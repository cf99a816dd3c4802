"""Running a CronJob now, with the semantics of ``kubectl create job NAME --from=cronjob/CRON``
(kubectl's pkg/cmd/create/create_job.go, createJobFromCronJob): the Job gets the CronJob's
jobTemplate spec, the jobTemplate's labels and annotations, the annotation
``cronjob.kubernetes.io/instantiate: manual`` and a controller ownerReference to the
CronJob (without blockOwnerDeletion, as kubectl). A suspended CronJob is still run, as
kubectl does; the preview says it is suspended. Planned first (nothing sent), previewed
with a server-side dry run, created, then optionally followed until Complete or Failed.
"""

from __future__ import annotations

import copy
import re
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import TargetError

if TYPE_CHECKING:
    from ditsops.clients.kube import KubeClient

INSTANTIATE = "cronjob.kubernetes.io/instantiate"
MAX_NAME = 63  # a Job's name is also a label value (job-name): 63 characters at most
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand: no vowels, no look-alikes
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def check_name(value: str, what: str, limit: int = 253) -> str:
    """A Kubernetes object name (DNS-1123 subdomain); ValueError says what is wrong."""
    if not value or len(value) > limit or not _DNS1123.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', "
            f"starting and ending with a letter or digit, at most {limit} characters)"
        )
    return value


def manual_job_name(cronjob: str, choose: Callable[[str], str] = secrets.choice) -> str:
    """``<cronjob>-manual-<5 random characters>``, the CronJob's name cut to keep it within 63."""
    suffix = "-manual-" + "".join(choose(_SUFFIX_ALPHABET) for _ in range(5))
    return cronjob[: MAX_NAME - len(suffix)].rstrip("-.") + suffix


def job_from_cronjob(cronjob: dict[str, Any], name: str, namespace: str) -> dict[str, Any]:
    """kubectl's createJobFromCronJob, field for field (namespace set: kubectl with -n)."""
    template = cronjob.get("spec", {}).get("jobTemplate", {})
    meta = template.get("metadata") or {}
    annotations = {INSTANTIATE: "manual", **(meta.get("annotations") or {})}
    job_meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "annotations": annotations,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": cronjob["metadata"]["name"],
                "uid": cronjob["metadata"]["uid"],
                "controller": True,
            }
        ],
    }
    if meta.get("labels"):
        job_meta["labels"] = dict(meta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta, "spec": copy.deepcopy(template.get("spec"))}


@dataclass
class JobPlan:
    """One Job to create from one CronJob, computed before anything is sent."""

    cronjob: str
    name: str
    namespace: str
    source: dict[str, Any]  # the CronJob as read
    body: dict[str, Any]  # the Job exactly as it will be sent
    kubectl: str
    undo: str
    suspended: bool = False
    notes: list[str] = field(default_factory=list)

    def containers(self) -> list[tuple[str, str, str]]:
        """(name, image, command and args) of each container the Job runs."""
        spec = (self.body.get("spec") or {}).get("template", {}).get("spec", {})
        return [
            (c.get("name", ""), c.get("image", ""), shlex.join([*(c.get("command") or []), *(c.get("args") or [])]))
            for c in spec.get("containers", [])
        ]


def plan_create_job(client: KubeClient, cronjob: str, name: str | None = None, context: str | None = None) -> JobPlan:
    check_name(cronjob, "cronjob")
    if name:
        check_name(name, "job name", MAX_NAME)
    source = client.get("cronjobs", cronjob)
    namespace = source["metadata"].get("namespace") or client.namespace
    name = name or manual_job_name(cronjob)
    flags = f" -n {namespace}" + (f" --context {context}" if context else "")
    plan = JobPlan(
        cronjob,
        name,
        namespace,
        source,
        job_from_cronjob(source, name, namespace),
        kubectl=f"kubectl create job {name} --from=cronjob/{cronjob}{flags}",
        undo=f"kubectl delete job {name}{flags}",
        suspended=bool(source.get("spec", {}).get("suspend")),
    )
    if plan.suspended:
        plan.notes.append(f"cronjob/{cronjob} is suspended: its schedule does not run, this job runs anyway")
    return plan


def dry_run(client: KubeClient, plan: JobPlan) -> dict[str, Any]:
    """The Job as the server would store it (dryRun=All): validation and defaults, nothing stored."""
    return client.create("jobs", plan.body, dry_run=True)


def create(client: KubeClient, plan: JobPlan) -> dict[str, Any]:
    """Create exactly the previewed Job, if the CronJob is still the one it was made from."""
    current = client.get("cronjobs", plan.cronjob)
    if current["metadata"].get("uid") != plan.source["metadata"].get("uid"):
        raise TargetError(f"cronjob {plan.cronjob} was deleted and created again since the preview; run the step again")
    return client.create("jobs", plan.body)


def job_state(job: dict[str, Any]) -> tuple[str, str]:
    """(state, message): state is complete, failed or running, from the Job's conditions."""
    name = job["metadata"]["name"]
    status, spec = job.get("status") or {}, job.get("spec") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return "complete", f'job "{name}" completed ({status.get("succeeded", 0)} succeeded)'
        if condition.get("type") == "Failed":
            why = ": ".join(p for p in (condition.get("reason"), condition.get("message")) if p)
            return "failed", f'job "{name}" failed: {why or "Failed"}'
    completions = spec.get("completions") or 1
    return "running", (
        f'Waiting for job "{name}" to complete: {status.get("active", 0)} active, '
        f"{status.get('succeeded', 0)}/{completions} succeeded, {status.get('failed', 0)} failed..."
    )


def follow_job(
    client: KubeClient,
    name: str,
    timeout: float,
    progress: Callable[[str], None] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    interval: float = 0.5,
) -> tuple[str, str]:
    """Poll until the Job is complete or failed, or the timeout passes: (state, message)."""
    deadline, last = clock() + timeout, None
    while True:
        state, message = job_state(client.get("jobs", name))
        if message != last and progress:
            progress(message)
        last = message
        if state != "running":
            return state, message
        if clock() >= deadline:
            return state, f"{message} (gave up after {timeout:g}s)"
        sleep(interval)


def summary_of(plan: JobPlan) -> dict[str, Any]:
    """What the run record keeps of the CronJob a Job was made from."""
    return {
        "cronjob": plan.cronjob,
        "namespace": plan.namespace,
        "uid": plan.source["metadata"].get("uid"),
        "resourceVersion": plan.source["metadata"].get("resourceVersion"),
        "suspended": plan.suspended,
        "job": plan.name,
    }
