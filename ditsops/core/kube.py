"""Kubernetes reads as typed values: deployments, their pods, rollout history, events, logs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import TargetUnreachable
from ditsops.core.results import Table

if TYPE_CHECKING:
    from ditsops.clients.kube import KubeClient

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def age_seconds(text: str | None, now: datetime | None = None) -> float | None:
    moment = parse_time(text)
    if moment is None:
        return None
    return ((now or datetime.now(UTC)) - moment).total_seconds()


def revision_of(obj: dict[str, Any]) -> int:
    """kubectl's Revision(): a missing annotation is revision 0."""
    value = obj.get("metadata", {}).get("annotations", {}).get(REVISION)
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except ValueError:  # kubectl refuses it too; an annotation is anyone's to write
        name = obj.get("metadata", {}).get("name", "?")
        raise TargetUnreachable(
            f"the Kubernetes API answered an unexpected document: {name}: {REVISION} is not a whole number"
        ) from None


def images(template: dict[str, Any]) -> list[str]:
    return [c.get("image", "") for c in template.get("spec", {}).get("containers", [])]


def selector_string(selector: dict[str, Any]) -> str:
    """A LabelSelector (matchLabels and matchExpressions) in the query-string syntax."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def owned_replicasets(client: KubeClient, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """ReplicaSets the deployment controls: matching its selector AND owned by its uid (as kubectl)."""
    uid = deployment["metadata"].get("uid")
    found = client.list("replicasets", selector=selector_string(deployment["spec"].get("selector", {})))
    return [
        rs
        for rs in found
        if any(ref.get("controller") and ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences", []))
    ]


@dataclass(frozen=True)
class Revision:
    number: int
    replicaset: str
    images: list[str]
    change_cause: str
    age: float | None  # seconds since it rolled out: for the current one, since it became current
    current: bool
    replicas: int
    created: float | None = None  # seconds since its ReplicaSet was created (its first rollout)


# Progressing reasons the deployment controller writes while (or once) the ReplicaSet its
# message names is the new one (kubernetes pkg/controller/deployment/util).
ROLLOUT_REASONS = {"NewReplicaSetAvailable", "ReplicaSetUpdated", "NewReplicaSetCreated", "FoundNewReplicaSet"}


def became_current(deployment: dict[str, Any], replicaset: str) -> str | None:
    """When `replicaset` became the deployment's current one, or None when unknown.

    A rollback (kubectl rollout undo, or `set image` back to an old template) makes an old
    ReplicaSet current again: the controller renumbers it, it is not created anew, so its
    creationTimestamp says when it first rolled out, possibly days ago. The deployment's
    Progressing condition names the new ReplicaSet and its lastUpdateTime is when that
    rollout last progressed (NewReplicaSetAvailable: when it completed); a scale leaves it
    alone (the controller only updates it while updatedReplicas != replicas)."""
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") in ROLLOUT_REASONS
            and f'"{replicaset}"' in (condition.get("message") or "")
        ):
            stamp = condition.get("lastUpdateTime") or condition.get("lastTransitionTime")
            return str(stamp) if stamp else None
    return None


def history(client: KubeClient, deployment: dict[str, Any]) -> list[Revision]:
    current = revision_of(deployment)
    rows = []
    for rs in owned_replicasets(client, deployment):
        name = rs["metadata"]["name"]
        created = age_seconds(rs["metadata"].get("creationTimestamp"))
        is_current = revision_of(rs) == current
        since = age_seconds(became_current(deployment, name)) if is_current else None
        rows.append(
            Revision(
                number=revision_of(rs),
                replicaset=name,
                images=images(rs["spec"]["template"]),
                change_cause=rs["metadata"].get("annotations", {}).get(CHANGE_CAUSE, ""),
                age=since if since is not None else created,
                current=is_current,
                replicas=rs.get("status", {}).get("replicas", 0),
                created=created,
            )
        )
    return sorted(rows, key=lambda r: r.number)


@dataclass(frozen=True)
class PodView:
    name: str
    phase: str
    ready: str  # "1/1"
    restarts: int
    reason: str  # CrashLoopBackOff, ImagePullBackOff, OOMKilled, ... or ""
    age: float | None
    node: str
    images: list[str]

    @property
    def serving(self) -> bool:
        ready, total = self.ready.split("/")
        return self.phase == "Running" and ready == total


def pod_table(pods: list[PodView]) -> Table:
    return Table(
        ("pod", "phase", "ready", "restarts", "reason", "age", "node"),
        [(p.name, p.phase, p.ready, p.restarts, p.reason, timedelta(seconds=int(p.age or 0)), p.node) for p in pods],
    )


def pod_view(pod: dict[str, Any]) -> PodView:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(pod.get("spec", {}).get("containers", [])) or len(statuses)
    reason = ""
    for container in statuses:
        waiting = (container.get("state") or {}).get("waiting") or {}
        terminated = (
            (container.get("lastState") or {}).get("terminated")
            or (container.get("state") or {}).get("terminated")
            or {}
        )
        reason = waiting.get("reason") or terminated.get("reason") or reason
        if waiting.get("reason") and terminated.get("reason") == "OOMKilled":
            reason = f"{waiting['reason']} (OOMKilled)"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = reason or "Terminating"
    return PodView(
        name=pod["metadata"]["name"],
        phase=status.get("phase", "Unknown"),
        ready=f"{ready}/{total}",
        restarts=sum(c.get("restartCount", 0) for c in statuses),
        reason=reason or status.get("reason", ""),
        age=age_seconds(status.get("startTime") or pod["metadata"].get("creationTimestamp")),
        node=pod.get("spec", {}).get("nodeName", ""),
        images=[c.get("image", "") for c in pod.get("spec", {}).get("containers", [])],
    )


@dataclass(frozen=True)
class DeploymentView:
    name: str
    desired: int
    updated: int
    ready: int
    available: int
    revision: int
    images: list[str]
    paused: bool
    conditions: list[tuple[str, str, str, str]]  # type, status, reason, message
    generation_observed: bool
    pods: list[PodView] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.available >= self.desired and self.updated >= self.desired and self.generation_observed


def deployment_view(deployment: dict[str, Any], pods: list[dict[str, Any]]) -> DeploymentView:
    spec, status = deployment.get("spec", {}), deployment.get("status", {})
    return DeploymentView(
        name=deployment["metadata"]["name"],
        desired=spec.get("replicas", 1),
        updated=status.get("updatedReplicas", 0),
        ready=status.get("readyReplicas", 0),
        available=status.get("availableReplicas", 0),
        revision=revision_of(deployment),
        images=images(spec.get("template", {})),
        paused=bool(spec.get("paused")),
        conditions=[
            (c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
            for c in status.get("conditions", [])
        ],
        generation_observed=deployment["metadata"].get("generation", 0) <= status.get("observedGeneration", 0),
        pods=sorted((pod_view(p) for p in pods), key=lambda p: p.name),
    )


def status(client: KubeClient, name: str | None = None, selector: str | None = None) -> list[DeploymentView]:
    deployments = [client.get("deployments", name)] if name else client.list("deployments", selector=selector)
    views = []
    for deployment in deployments:
        pods = client.list("pods", selector=selector_string(deployment["spec"].get("selector", {})))
        views.append(deployment_view(deployment, pods))
    return views


@dataclass(frozen=True)
class LogLine:
    pod: str
    text: str
    time: str = ""  # the kubelet's RFC 3339 time of the line, when it gave one


def logs(
    client: KubeClient,
    selector: str,
    *,
    tail: int | None = 100,
    since_seconds: int | None = None,
    previous: bool = False,
    grep: str | None = None,
    container: str | None = None,
    max_pods: int = 50,
) -> tuple[list[LogLine], int]:
    """Lines from every pod matching the selector, each with its pod, merged in time order
    (the kubelet's timestamps); and how many pods were read. `tail` counts per pod."""
    from ditsops.core.kubelogs import in_time_order, stamped

    pattern = re.compile(grep) if grep else None
    pods = client.list("pods", selector=selector, limit=max_pods)
    found = []
    for pod in pods:
        name = pod["metadata"]["name"]
        text = client.logs(
            name, container=container, tail=tail, since_seconds=since_seconds, previous=previous, timestamps=True
        )
        lines = text.splitlines()
        # The last `tail` lines, whatever the server sent: it may ignore tailLines
        found += [stamped(name, raw) for raw in (lines[-tail:] if tail else lines)]
    return [
        LogLine(line.pod, line.text, line.time)
        for line in in_time_order(found)
        if line.text and (pattern is None or pattern.search(line.text))
    ], len(pods)


@dataclass(frozen=True)
class EventView:
    type: str
    reason: str
    object: str
    message: str
    count: int
    age: float | None


def events(client: KubeClient, name: str | None = None) -> list[EventView]:
    """Events of the namespace, or of the objects named after a deployment (its ReplicaSets
    and pods too), newest first. Every page is read: a cap would drop some at random."""
    found = client.list("events")
    views = []
    for event in found:
        involved = event.get("involvedObject", {})
        target = f"{involved.get('kind', '').lower()}/{involved.get('name', '')}"
        if name and not involved.get("name", "").startswith(name):
            continue
        stamp = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
        views.append(
            EventView(
                event.get("type", ""),
                event.get("reason", ""),
                target,
                event.get("message", ""),
                event.get("count", 1) or 1,
                age_seconds(stamp),
            )
        )
    return sorted(views, key=lambda e: e.age if e.age is not None else 0)
