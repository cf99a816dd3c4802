"""What the Dits simulator knows of its Kubernetes: the dits-server Deployment and GC Jobs.

`KubeDeploymentSource` is the simulator's image source grown into a source of facts: a
background thread GETs the dits-server Deployment and the namespace's Jobs every second
and keeps the last answer as one frozen `DeploymentFacts` (image, pod-template changes and
restartedAt, whether the rollout finished, ready replicas, the server's env, the Jobs made
from cronjob/dits-gc), so a tick never waits on the network and an API that hiccups keeps
the previous facts. An API without batch/v1 (404) just never shows a GC job.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ditsops.sandbox.kubesource import (
    DEPLOYMENT,
    NAMESPACE,
    POLL_SECONDS,
    KubeError,
    KubeHTTP,
    container_image,
    rollout_complete,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
GC_CRONJOB = "dits-gc"  # the CronJob whose Jobs run Dits garbage collection
INSTANTIATE = "cronjob.kubernetes.io/instantiate"  # "manual" on `kubectl create job --from=cronjob/...`
# A Job the API never gives a status (no job controller) counts as done this long after
# its creation; with a controller, done means status.succeeded >= 1.
JOB_WITHOUT_STATUS_SECONDS = 3.0


@dataclass(frozen=True)
class JobFact:
    """A Job made from cronjob/dits-gc."""

    uid: str
    name: str
    created: float | None  # Unix time of metadata.creationTimestamp (whole seconds)
    succeeded: bool  # status.succeeded >= 1 or a Complete condition
    has_status: bool  # the API reports any status for it at all

    def done(self, now: float) -> bool:
        if self.succeeded:
            return True
        return not self.has_status and (self.created is None or now - self.created >= JOB_WITHOUT_STATUS_SECONDS)


@dataclass(frozen=True)
class DeploymentFacts:
    """What the dits-server Deployment says right now; the defaults stand for "no Kubernetes"."""

    image: str | None = None
    live: bool = False  # read from a Kubernetes API (else a static stand-in: nothing below is known)
    template_hash: str | None = None  # fingerprint of spec.template: a new one means new pods
    template_changes: int = 0  # how often the template changed since the source started
    restarted_at: str | None = None  # the template's kubectl.kubernetes.io/restartedAt
    rolled_out: bool = True  # the pods of the current template are all up and the old ones gone
    replicas: int | None = None  # spec.replicas
    ready_replicas: int | None = None  # status.readyReplicas
    env: Mapping[str, str] = field(default_factory=dict)  # the server container's literal env
    gc_jobs: tuple[JobFact, ...] = ()
    jobs_api: bool | None = None  # batch/v1 Jobs answered (False: 404; None: not asked yet)

    @property
    def serving_replicas(self) -> int | None:
        """Ready pods, at most the desired count: a rollout's surge pod is no scale-out."""
        if self.ready_replicas is None:
            return None
        return min(self.ready_replicas, self.replicas) if self.replicas is not None else self.ready_replicas


def template_hash(deployment: dict[str, Any]) -> str:
    template = (deployment.get("spec") or {}).get("template") or {}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:12]


def container_env(deployment: dict[str, Any], container: str | None = None) -> dict[str, str]:
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    wanted = container or (deployment.get("metadata") or {}).get("name")
    chosen = next((item for item in containers if item.get("name") == wanted), containers[0] if containers else {})
    return {
        str(item["name"]): str(item.get("value", ""))
        for item in chosen.get("env") or []
        if isinstance(item, dict) and "name" in item and "valueFrom" not in item
    }


def deployment_facts(deployment: dict[str, Any], previous: DeploymentFacts | None = None) -> DeploymentFacts:
    """Facts from one GET of the Deployment; `previous` carries the template-change count."""
    fingerprint = template_hash(deployment)
    changes = previous.template_changes if previous else 0
    if previous is not None and previous.template_hash is not None and previous.template_hash != fingerprint:
        changes += 1
    template = (deployment.get("spec") or {}).get("template") or {}
    status = deployment.get("status") or {}
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return DeploymentFacts(
        image=container_image(deployment),
        live=True,
        template_hash=fingerprint,
        template_changes=changes,
        restarted_at=((template.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT),
        rolled_out=rollout_complete(deployment),
        replicas=int(replicas) if replicas is not None else None,
        ready_replicas=int(status.get("readyReplicas") or 0),
        env=container_env(deployment),
        gc_jobs=previous.gc_jobs if previous else (),
        jobs_api=previous.jobs_api if previous else None,
    )


def is_gc_job(job: dict[str, Any], cronjob: str = GC_CRONJOB) -> bool:
    """Made from cronjob `cronjob`: owned by it, or instantiated by hand and owned by no other."""
    metadata = job.get("metadata") or {}
    owners = [owner for owner in metadata.get("ownerReferences") or [] if owner.get("kind") == "CronJob"]
    if owners:
        return any(owner.get("name") == cronjob for owner in owners)
    marks = {**(metadata.get("labels") or {}), **(metadata.get("annotations") or {})}
    return marks.get(INSTANTIATE) == "manual"


def job_fact(job: dict[str, Any]) -> JobFact:
    metadata = job.get("metadata") or {}
    status = job.get("status") or {}
    conditions = status.get("conditions") or []
    complete = any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)
    return JobFact(
        uid=str(metadata.get("uid") or metadata.get("name")),
        name=str(metadata.get("name")),
        created=parse_time(metadata.get("creationTimestamp")),
        succeeded=int(status.get("succeeded") or 0) >= 1 or complete,
        has_status=bool(status),
    )


def parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class KubeDeploymentSource:
    """The dits-server Deployment's facts and dits-gc's Jobs, refreshed every second."""

    def __init__(
        self,
        api_url: str,
        namespace: str = NAMESPACE,
        deployment: str = DEPLOYMENT,
        fallback: str | None = None,
        interval: float = POLL_SECONDS,
    ) -> None:
        self.client = KubeHTTP(api_url)
        self.namespace, self.deployment, self.interval = namespace, deployment, interval
        self._facts = DeploymentFacts(image=fallback)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_jobs_error: str | None = None

    def current_image(self) -> str | None:
        return self._facts.image

    def facts(self) -> DeploymentFacts:
        return self._facts  # frozen, replaced whole: safe to read from any thread

    def refresh(self) -> None:
        previous = self._facts
        try:
            facts = deployment_facts(
                self.client.get_deployment(self.namespace, self.deployment), previous if previous.live else None
            )
        except (KubeError, ValueError, KeyError, TypeError) as exc:  # keep the last answer
            self._note_error(f"reading the deployment: {getattr(exc, 'message', str(exc))}")
            return
        self.last_error = None
        if not facts.image:
            facts = replace(facts, image=previous.image)
        self._facts = self._with_jobs(facts)

    def _with_jobs(self, facts: DeploymentFacts) -> DeploymentFacts:
        try:
            listing = self.client.request("GET", f"/apis/batch/v1/namespaces/{self.namespace}/jobs")
        except KubeError as exc:
            if exc.status == 404:  # an API without batch/v1: no GC job can ever show up
                return replace(facts, jobs_api=False, gc_jobs=())
            if exc.message != self.last_jobs_error:
                print(f"dits-sim: listing jobs: {exc.message}", file=sys.stderr, flush=True)
            self.last_jobs_error = exc.message
            return facts
        self.last_jobs_error = None
        items = listing.get("items") if isinstance(listing, dict) else None
        jobs = tuple(job_fact(job) for job in items or [] if isinstance(job, dict) and is_gc_job(job))
        return replace(facts, jobs_api=True, gc_jobs=jobs)

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            print(f"dits-sim: {message}", file=sys.stderr, flush=True)
        self.last_error = message

    def start(self) -> KubeDeploymentSource:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="dits-sim-kube", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            self.refresh()
