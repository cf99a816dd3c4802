"""Deployment actions with kubectl's semantics: rollout undo, restart, scale, set env,
and rollout status. Each action is planned first (nothing sent), previewed with a
server-side dry run, then applied; see kubectl's polymorphichelpers/rollback.go,
rollout_status.go, objectrestarter.go and the scale command."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import StateMoved, TargetError
from ditsops.clients.kube import JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Conflict, retry_on_conflict
from ditsops.core.kube import REVISION, images, owned_replicasets, revision_of
from ditsops.core.podtemplate import same_template, without_hash

if TYPE_CHECKING:
    from ditsops.clients.kube import KubeClient

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Deployment annotations a rollback keeps from the deployment instead of taking from the
# ReplicaSet (kubectl's annotationsToSkip).
ANNOTATIONS_TO_SKIP = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


@dataclass
class Plan:
    """One change to one deployment, computed before anything is sent."""

    action: str  # rollout-undo | restart | scale | set-env
    deployment: str
    namespace: str
    before: dict[str, Any]  # the deployment as read
    patch: Any = None
    content_type: str = STRATEGIC_PATCH
    subresource: str | None = None
    kubectl: str = ""  # what a person would type for the same change
    undo: str = ""  # what reverts it
    skipped: str | None = None  # kubectl's "skipped rollback (...)": nothing to apply
    precondition: int | None = None  # scale --current-replicas
    replicas: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    what: str
    before: str
    after: str


def _ns(namespace: str) -> str:
    return f" -n {namespace}"


# -- rollout undo ------------------------------------------------------------------------


def rollback_source(client: KubeClient, deployment: dict[str, Any], to_revision: int) -> dict[str, Any]:
    """kubectl's deploymentRevision: the exact revision, or by default the second newest."""
    if to_revision < 0:
        raise TargetError(f"unable to find specified revision {to_revision} in history")
    latest = previous = None
    latest_revision = previous_revision = -1
    for rs in owned_replicasets(client, deployment):
        number = revision_of(rs)
        if to_revision == 0:
            if latest_revision < number:
                previous, previous_revision = latest, latest_revision
                latest, latest_revision = rs, number
            elif previous_revision < number:
                previous, previous_revision = rs, number
        elif number == to_revision:
            return rs
    if to_revision > 0:
        raise TargetError(f"unable to find specified revision {to_revision} in history")
    if previous is None:
        raise TargetError(f'no rollout history found for deployment "{deployment["metadata"]["name"]}"')
    return previous


def plan_undo(client: KubeClient, name: str, to_revision: int = 0) -> Plan:
    deployment = client.get("deployments", name)
    source = rollback_source(client, deployment, to_revision)
    number = revision_of(source)
    namespace = deployment["metadata"].get("namespace", client.namespace)
    flag = f" --to-revision={to_revision}" if to_revision else ""
    plan = Plan(
        "rollout-undo",
        name,
        namespace,
        deployment,
        kubectl=f"kubectl rollout undo deployment/{name}{_ns(namespace)}{flag}",
        undo=f"ditsops -n {namespace} k8s undo {name} --to-revision {revision_of(deployment)}",
    )
    if deployment["spec"].get("paused"):
        raise TargetError(
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
        )
    if same_template(source["spec"]["template"], deployment["spec"]["template"]):
        plan.skipped = f"skipped rollback (current template already matches revision {number})"
        return plan
    template = without_hash(source["spec"]["template"])
    annotations = {k: v for k, v in deployment["metadata"].get("annotations", {}).items() if k in ANNOTATIONS_TO_SKIP}
    annotations.update(
        {k: v for k, v in source["metadata"].get("annotations", {}).items() if k not in ANNOTATIONS_TO_SKIP}
    )
    plan.patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    plan.content_type = JSON_PATCH
    plan.notes.append(f"rolls back from revision {revision_of(deployment)} to the template of revision {number}")
    return plan


# -- restart, scale, set env -------------------------------------------------------------


def plan_restart(client: KubeClient, name: str, now: datetime | None = None) -> Plan:
    deployment = client.get("deployments", name)
    if deployment["spec"].get("paused"):
        raise TargetError("can't restart paused deployment (run rollout resume first)")
    namespace = deployment["metadata"].get("namespace", client.namespace)
    # kubectl writes time.Now().Format(time.RFC3339): UTC as `Z`, never `+00:00`.
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Plan(
        "restart",
        name,
        namespace,
        deployment,
        patch={"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}},
        kubectl=f"kubectl rollout restart deployment/{name}{_ns(namespace)}",
        undo="none: a restart replaces pods, there is nothing to revert",
    )


def plan_scale(client: KubeClient, name: str, replicas: int, current_replicas: int | None = None) -> Plan:
    if replicas < 0:
        raise TargetError("the number of replicas must be 0 or more")
    deployment = client.get("deployments", name)
    namespace = deployment["metadata"].get("namespace", client.namespace)
    current = deployment["spec"].get("replicas", 1)
    flag = f" --current-replicas={current_replicas}" if current_replicas is not None else ""
    plan = Plan(
        "scale",
        name,
        namespace,
        deployment,
        subresource="scale",
        content_type=MERGE_PATCH,
        patch={"spec": {"replicas": replicas}},
        replicas=replicas,
        precondition=current_replicas,
        kubectl=f"kubectl scale deployment/{name}{_ns(namespace)}{flag} --replicas={replicas}",
        undo=f"ditsops -n {namespace} k8s scale {name} --replicas {current}",
    )
    if current_replicas is not None and current != current_replicas:
        raise TargetError(f"Expected replicas to be {current_replicas}, was {current}")
    return plan


def plan_set_env(client: KubeClient, name: str, env: dict[str, str | None], container: str | None = None) -> Plan:
    """env: NAME -> value, or None to remove (kubectl's NAME-)."""
    deployment = client.get("deployments", name)
    namespace = deployment["metadata"].get("namespace", client.namespace)
    containers = deployment["spec"]["template"]["spec"].get("containers", [])
    chosen = [c for c in containers if container is None or c["name"] == container]
    if not chosen:
        names = ", ".join(c["name"] for c in containers)
        raise TargetError(f"deployment {name} has no container {container!r} (containers: {names})")
    patch_containers, undo_parts = [], {}
    for c in chosen:
        current = {e["name"]: e.get("value") for e in c.get("env", []) if "valueFrom" not in e}
        entries = [{"name": k, "$patch": "delete"} if v is None else {"name": k, "value": v} for k, v in env.items()]
        patch_containers.append({"name": c["name"], "env": entries})
        for key in env:
            undo_parts[key] = f"{key}={current[key]}" if key in current else f"{key}-"
    flags = f" -c {container}" if container else ""
    assignments = " ".join(f"{k}-" if v is None else f"{k}={v}" for k, v in env.items())
    return Plan(
        "set-env",
        name,
        namespace,
        deployment,
        patch={"spec": {"template": {"spec": {"containers": patch_containers}}}},
        kubectl=f"kubectl set env deployment/{name}{_ns(namespace)}{flags} {assignments}",
        undo=f"ditsops -n {namespace} k8s set-env {name}{flags} {' '.join(undo_parts.values())}",
    )


# -- preview and apply -------------------------------------------------------------------


def dry_run(client: KubeClient, plan: Plan) -> dict[str, Any]:
    """The deployment as the server would store it (dryRun=All): validation and defaults included."""
    if plan.skipped:
        return plan.before
    if plan.action == "scale":
        client.patch("deployments", plan.deployment, plan.patch, MERGE_PATCH, dry_run=True, subresource="scale")
        after = copy.deepcopy(plan.before)
        after["spec"]["replicas"] = plan.replicas
        return after
    return client.patch("deployments", plan.deployment, plan.patch, plan.content_type, dry_run=True)


def apply(
    client: KubeClient,
    plan: Plan,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Send the plan onto exactly the state it was made from.

    Scale checks the previewed replica count (kubectl's --current-replicas) on the scale
    subresource; every other write carries the previewed resourceVersion, so the API server
    answers 409 Conflict when the deployment changed since. A conflict caused only by status
    (pods becoming ready bump the resourceVersion too) is retried with the fresh version:
    the spec the plan was made from still holds. Anything else raises StateMoved, and
    nothing was sent."""
    if plan.action == "scale":
        return _apply_scale(client, plan, sleep=sleep, clock=clock)
    version = plan.before["metadata"].get("resourceVersion")
    for _ in range(10):
        try:
            return client.patch(
                "deployments", plan.deployment, _pinned(plan, version), plan.content_type, subresource=plan.subresource
            )
        except Conflict:
            current = client.get("deployments", plan.deployment)
            moved = moved_since(plan.before, current)
            if moved:
                raise StateMoved(f"deployment {plan.deployment} changed since the preview: {moved}") from None
            version = current["metadata"].get("resourceVersion")
    raise StateMoved(f"deployment {plan.deployment} kept changing while the change was sent; nothing was applied")


def _pinned(plan: Plan, version: str | None) -> Any:
    """The plan's patch, conditional on `version` (a stale one is a 409 Conflict)."""
    if not version:
        return plan.patch
    if plan.content_type == JSON_PATCH:
        return [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}, *plan.patch]
    patch = copy.deepcopy(plan.patch)
    patch.setdefault("metadata", {})["resourceVersion"] = version
    return patch


def _apply_scale(
    client: KubeClient, plan: Plan, *, sleep: Callable[[float], None], clock: Callable[[], float]
) -> dict[str, Any]:
    expected = plan.precondition if plan.precondition is not None else plan.before["spec"].get("replicas", 1)

    def guarded() -> dict[str, Any]:
        scale = client.get("deployments", plan.deployment, subresource="scale")
        actual = scale.get("spec", {}).get("replicas", 0)
        if actual != expected:
            raise StateMoved(
                f"replicas: {expected} -> {plan.replicas} previewed; now {actual} (changed by someone else)"
            )
        scale["spec"]["replicas"] = plan.replicas
        return client.replace("deployments", plan.deployment, scale, subresource="scale")

    # A conflict on the PUT means the scale moved between our GET and PUT: read it again,
    # and the replica check above decides whether it still is the previewed state.
    return retry_on_conflict(guarded, sleep=sleep, clock=clock)


def moved_since(before: dict[str, Any], now: dict[str, Any]) -> str:
    """What changed in the parts a plan depends on (spec, labels, annotations), in words;
    empty when only status or bookkeeping changed."""
    if (before.get("spec"), _labels_and_annotations(before)) == (now.get("spec"), _labels_and_annotations(now)):
        return ""
    found = changes(before, now)
    if not found:
        return "its spec or annotations were changed by someone else"
    return (
        "; ".join(f"{c.what}: {c.before} at the preview, now {c.after}" for c in found[:4])
        + " (changed by someone else)"
    )


def _labels_and_annotations(deployment: dict[str, Any]) -> tuple[Any, Any]:
    meta = deployment.get("metadata", {})
    return meta.get("labels"), meta.get("annotations")


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """What a person checks before confirming: image, replicas, env, pod annotations."""
    found = []
    b_spec, a_spec = before.get("spec", {}), after.get("spec", {})
    if b_spec.get("replicas") != a_spec.get("replicas"):
        found.append(Change("replicas", str(b_spec.get("replicas")), str(a_spec.get("replicas"))))
    b_tpl, a_tpl = b_spec.get("template", {}), a_spec.get("template", {})
    b_containers = {c["name"]: c for c in b_tpl.get("spec", {}).get("containers", [])}
    for c in a_tpl.get("spec", {}).get("containers", []):
        old = b_containers.get(c["name"], {})
        if old.get("image") != c.get("image"):
            found.append(Change(f"image ({c['name']})", old.get("image", "-"), c.get("image", "-")))
        old_env = {e["name"]: e.get("value", "<from source>") for e in old.get("env", [])}
        new_env = {e["name"]: e.get("value", "<from source>") for e in c.get("env", [])}
        for key in sorted(set(old_env) | set(new_env)):
            if old_env.get(key) != new_env.get(key):
                found.append(
                    Change(f"env {key} ({c['name']})", old_env.get(key, "(unset)"), new_env.get(key, "(unset)"))
                )
    b_ann = b_tpl.get("metadata", {}).get("annotations", {}) or {}
    a_ann = a_tpl.get("metadata", {}).get("annotations", {}) or {}
    for key in sorted(set(b_ann) | set(a_ann)):
        if b_ann.get(key) != a_ann.get(key):
            found.append(Change(f"pod annotation {key}", b_ann.get(key, "(unset)"), a_ann.get(key, "(unset)")))
    cause_b = before.get("metadata", {}).get("annotations", {}).get("kubernetes.io/change-cause")
    cause_a = after.get("metadata", {}).get("annotations", {}).get("kubernetes.io/change-cause")
    if cause_b != cause_a:
        found.append(Change("change-cause", cause_b or "(unset)", cause_a or "(unset)"))
    return found


# -- rollout status ----------------------------------------------------------------------


def rollout_status(deployment: dict[str, Any]) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer: (message, done); raises when the deadline passed."""
    name = deployment["metadata"]["name"]
    status, spec = deployment.get("status", {}), deployment.get("spec", {})
    if deployment["metadata"].get("generation", 0) <= status.get("observedGeneration", 0):
        for condition in status.get("conditions", []):
            if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
                raise TargetError(f'deployment "{name}" exceeded its progress deadline')
        desired = spec.get("replicas", 1)
        updated, replicas = status.get("updatedReplicas", 0), status.get("replicas", 0)
        available = status.get("availableReplicas", 0)
        if updated < desired:
            return (
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{updated} out of {desired} new replicas have been updated...",
                False,
            )
        if replicas > updated:
            return (
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{replicas - updated} old replicas are pending termination...",
                False,
            )
        if available < updated:
            return (
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{available} of {updated} updated replicas are available...",
                False,
            )
        return f'deployment "{name}" successfully rolled out', True
    return "Waiting for deployment spec update to be observed...", False


def follow_rollout(
    client: KubeClient,
    name: str,
    timeout: float,
    progress: Callable[[str], None] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    interval: float = 0.5,
) -> tuple[str, bool]:
    """Poll until the rollout is done or timeout; report each new message once."""
    deadline, last = clock() + timeout, None
    while True:
        message, done = rollout_status(client.get("deployments", name))
        if message != last and progress:
            progress(message)
        last = message
        if done:
            return message, True
        if clock() >= deadline:
            return f"{message} (gave up after {timeout:g}s)", False
        sleep(interval)


def summary_of(deployment: dict[str, Any]) -> dict[str, Any]:
    """What the run record keeps of a deployment's state before a change."""
    spec = deployment.get("spec", {})
    return {
        "name": deployment["metadata"]["name"],
        "namespace": deployment["metadata"].get("namespace"),
        "revision": revision_of(deployment),
        "replicas": spec.get("replicas"),
        "images": images(spec.get("template", {})),
        "env": {
            c["name"]: {e["name"]: e.get("value") for e in c.get("env", [])}
            for c in spec.get("template", {}).get("spec", {}).get("containers", [])
        },
        "paused": bool(spec.get("paused")),
        "resourceVersion": deployment["metadata"].get("resourceVersion"),
    }
