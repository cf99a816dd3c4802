"""`kube: ...` — Kubernetes reads and actions on Dits deployments.

    - id: history
      kube: rollout-history
      deployment: "{{ deployment }}"
    - id: rollback
      when: [error-rate failing, history below 3600]
      kube: rollout-undo                  # destructive by kind: dry run, preview, confirm
      deployment: "{{ deployment }}"

Reads: status, pods, logs, events, rollout-history, rollout-status.
Actions: rollout-undo, restart, scale, set-env (each followed until rolled out).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.durations import parse_duration
from ditsops.base.units import format_value
from ditsops.core import kube, rollout
from ditsops.core.invocation import retarget, with_kubectl
from ditsops.core.loggroups import group_data, group_lines
from ditsops.core.model import Step
from ditsops.core.results import Preview, Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import ActionKind, FieldReader, RunContext, StepKind
from ditsops.core.template import references_in, resolve

if TYPE_CHECKING:
    from ditsops.clients.kube import KubeClient
    from ditsops.core.lease import KubeLease

COMMON = ("namespace",)
AGE = "seconds ago"  # the unit of rollout-history's value: how long ago the current revision rolled out


@dataclass(frozen=True)
class KubeSpec:
    fields: dict[str, Any] = field(default_factory=dict)  # raw, placeholders resolved at run time

    def values(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = resolve(self.fields, params)
        return resolved


def kube_client(ctx: RunContext, namespace: str | None = None) -> KubeClient:
    from ditsops.core import connect

    return ctx.client("kube", lambda: connect.kube(ctx.settings)).in_namespace(namespace)


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    return value.total_seconds() if isinstance(value, timedelta) else parse_duration(str(value)).total_seconds()


class _KubeKind(StepKind[KubeSpec]):
    spec_type = KubeSpec
    key = "kube"
    target = "kubernetes"
    required: tuple[str, ...] = ()
    types: dict[str, type | tuple[type, ...]] = {}

    def parse(self, value: Any, reader: FieldReader) -> KubeSpec:
        found = {}
        for name in self.fields:
            got = reader.get(name, self.types.get(name, (str, int)), required=name in self.required)
            if got is not None:
                found[name] = got
        return KubeSpec(found)

    def references(self, spec: KubeSpec | None) -> set[str]:
        return references_in(spec.fields) if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        values = self.spec_of(step).values(params)
        shown = " ".join(f"{k}={v}" for k, v in values.items() if k != "namespace")
        return f"kube {self.name} {shown}".strip()


# -- reads -------------------------------------------------------------------------------


@register
class DeploymentStatus(_KubeKind):
    prefetch = True
    name = "status"
    fields = ("deployment", "selector", *COMMON)
    thresholds = True

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        v = self.spec_of(step).values(ctx.params)
        views = kube.status(kube_client(ctx, v.get("namespace")), v.get("deployment"), v.get("selector"))
        missing = sum(max(d.desired - d.available, 0) for d in views)
        rows = [
            (
                d.name,
                f"{d.ready}/{d.desired}",
                d.updated,
                d.available,
                d.revision,
                ", ".join(d.images),
                "paused" if d.paused else "",
            )
            for d in views
        ]
        head = ", ".join(f"{d.name} {d.available}/{d.desired} available, revision {d.revision}" for d in views)
        return StepResult(
            Status.INFO,
            head or "no deployments",
            value=float(missing),
            tables=[
                Table(("deployment", "ready", "up-to-date", "available", "revision", "images", ""), rows),
                kube.pod_table([p for d in views for p in d.pods]),
            ],
            data={"deployments": [asdict(d) for d in views]},
        )


@register
class Pods(_KubeKind):
    prefetch = True
    name = "pods"
    fields = ("selector", *COMMON)
    required = ("selector",)
    thresholds = True

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        v = self.spec_of(step).values(ctx.params)
        pods = [kube.pod_view(p) for p in kube_client(ctx, v.get("namespace")).list("pods", selector=v["selector"])]
        unready = [p for p in pods if not p.serving]
        reasons = sorted({p.reason for p in unready if p.reason})
        summary = f"{len(pods) - len(unready)}/{len(pods)} pods ready" + (f"; {', '.join(reasons)}" if reasons else "")
        return StepResult(
            Status.INFO,
            summary,
            value=float(len(unready)),
            tables=[kube.pod_table(pods)],
            data={"pods": [asdict(p) for p in pods]},
        )


@register
class Logs(_KubeKind):
    prefetch = True
    name = "logs"
    fields = ("selector", "tail", "grep", "since", "previous", "container", *COMMON)
    required = ("selector",)
    types = {"tail": int, "previous": bool}
    thresholds = True

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        v = self.spec_of(step).values(ctx.params)
        since = math.ceil(_seconds(v["since"], 0)) if v.get("since") else None  # as kubectl: rounded up
        lines, pods = kube.logs(
            kube_client(ctx, v.get("namespace")),
            v["selector"],
            tail=v.get("tail", 100),
            since_seconds=since,
            previous=bool(v.get("previous")),
            grep=v.get("grep"),
            container=v.get("container"),
        )
        matched = f" matching {v['grep']!r}" if v.get("grep") else ""
        # The same few messages repeated across pods read as one line each: grouped with
        # their varying parts masked, newest first, each message whole.
        groups = group_lines((line.pod, line.text, line.time) for line in lines)
        distinct = f", {len(groups)} distinct message{'s' if len(groups) != 1 else ''}" if lines else ""
        return StepResult(
            Status.INFO,
            f"{len(lines)} line{'s' if len(lines) != 1 else ''}{matched} from {pods} pod{'s' if pods != 1 else ''}"
            f"{distinct}",
            value=float(len(lines)),
            unit="count",
            log_groups=groups,
            data={
                "lines": [{"pod": line.pod, "line": line.text} for line in lines[-200:]],
                "pods": pods,
                "groups": [group_data(g) for g in groups],
            },
        )


@register
class Events(_KubeKind):
    prefetch = True
    name = "events"
    fields = ("deployment", *COMMON)
    thresholds = True

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        v = self.spec_of(step).values(ctx.params)
        found = kube.events(kube_client(ctx, v.get("namespace")), v.get("deployment"))
        warnings = [e for e in found if e.type == "Warning"]
        rows = [(timedelta(seconds=e.age or 0), e.type, e.reason, e.object, e.message) for e in found[:30]]
        return StepResult(
            Status.INFO,
            f"{len(found)} events, {len(warnings)} warnings",
            value=float(len(warnings)),
            tables=[
                Table(
                    ("age", "type", "reason", "object", "message"), rows, total=len(found) if len(found) > 30 else None
                )
            ],
            data={"events": [asdict(e) for e in found[:100]]},
        )


@register
class History(_KubeKind):
    prefetch = True
    name = "rollout-history"
    fields = ("deployment", *COMMON)
    required = ("deployment",)
    thresholds = True

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        """The value is the age in seconds of the current revision: `history below 3600`
        reads as "a rollout happened in the last hour"."""
        v = self.spec_of(step).values(ctx.params)
        client = kube_client(ctx, v.get("namespace"))
        revisions = kube.history(client, client.get("deployments", v["deployment"]))
        current = next((r for r in revisions if r.current), None)
        rows = [
            (
                r.number,
                "current" if r.current else "",
                ", ".join(r.images),
                r.change_cause,
                timedelta(seconds=r.age or 0),
                r.replicas,
            )
            for r in reversed(revisions)
        ]
        summary = (
            # the age first: on a line cut at the terminal's edge it is the fact that decides
            f"revision {current.number} rolled out {format_value(current.age, AGE)}: {', '.join(current.images)}"
            if current and current.age is not None
            else f"revision {current.number} is current: {', '.join(current.images)}"
            if current
            else "no revisions"
        )
        return StepResult(
            Status.INFO,
            summary,
            value=current.age if current else None,
            unit=AGE,
            tables=[Table(("revision", "", "images", "change-cause", "age", "pods"), rows)],
            data={"revisions": [asdict(r) for r in revisions]},
        )


@register
class RolloutStatus(_KubeKind):
    name = "rollout-status"
    fields = ("deployment", "timeout", *COMMON)
    required = ("deployment",)

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        v = self.spec_of(step).values(ctx.params)
        message, done = rollout.follow_rollout(
            kube_client(ctx, v.get("namespace")),
            v["deployment"],
            _seconds(v.get("timeout"), 300),
            ctx.report,
            sleep=ctx.sleep,
            clock=ctx.clock,
        )
        return StepResult(Status.OK if done else Status.FAILING, message, data={"done": done, "message": message})


# -- actions -----------------------------------------------------------------------------


class _Action(_KubeKind, ActionKind[KubeSpec]):
    required: tuple[str, ...] = ("deployment",)
    verb: str  # "roll back": what the preview says it will do
    done: str  # "rolled back": what the result says it did

    def plan(self, v: dict[str, Any], client: KubeClient) -> rollout.Plan:
        raise NotImplementedError

    def lease(self, step: Step, ctx: RunContext) -> KubeLease:
        from ditsops.core.lease import kube_lease
        from ditsops.core.record import who

        v = self.spec_of(step).values(ctx.params)
        client = kube_client(ctx, v.get("namespace"))
        return kube_lease(client, client.namespace, str(v["deployment"]), who(), ctx.run_id, step.id)

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        v = self.spec_of(step).values(ctx.params)
        client = kube_client(ctx, v.get("namespace"))
        plan = with_kubectl(ctx.settings, self.plan(v, client))  # `Equivalent:` pasteable as printed
        if plan.skipped:
            return Preview(target=plan.deployment, summary=plan.skipped, empty=True, command=plan.kubectl)
        after = rollout.dry_run(client, plan)  # the server validates the change; nothing is stored
        found = rollout.changes(plan.before, after)
        where = f"deployment {plan.deployment} in {plan.namespace} ({client.target.context})"
        what = "; ".join(f"{c.what}: {c.before} -> {c.after}" for c in found[:3]) or "no visible change"
        return Preview(
            target=plan.deployment,
            summary=f"{self.verb} {where}: {what}",
            table=Table(("change", "before", "after"), [(c.what, c.before, c.after) for c in found]),
            command=plan.kubectl,
            items=plan,
            headline=f"{self.verb} {where}",
            data={
                "kubectl": plan.kubectl,
                "undo": retarget(ctx.settings, plan.undo),
                "before": rollout.summary_of(plan.before),
                "changes": [asdict(c) for c in found],
                "notes": plan.notes,
            },
        )

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        v = self.spec_of(step).values(ctx.params)
        plan: rollout.Plan = preview.items
        client = kube_client(ctx, v.get("namespace"))
        rollout.apply(client, plan, sleep=ctx.sleep, clock=ctx.clock)
        undo = retarget(ctx.settings, plan.undo)  # pasted later, it must hit the same target
        before = rollout.summary_of(plan.before)
        ctx.accepted(f"{self.done} deployment {plan.deployment}", undo=undo, before=before, kubectl=plan.kubectl)
        message, done = rollout.follow_rollout(
            client, plan.deployment, _seconds(v.get("timeout"), 300), ctx.report, sleep=ctx.sleep, clock=ctx.clock
        )
        return StepResult(
            Status.APPLIED,
            f"{self.done}; {message}; undo: {undo}",
            warnings=[] if done else [f"the rollout has not finished: {message}"],
            data={
                "before": rollout.summary_of(plan.before),
                "undo": undo,
                "kubectl": plan.kubectl,
                "rolled_out": done,
                "status": message,
            },
        )


@register
class Undo(_Action):
    name = "rollout-undo"
    fields = ("deployment", "to_revision", "timeout", *COMMON)
    types = {"to_revision": (int, str)}
    verb, done = "roll back", "rolled back"

    def plan(self, v: dict[str, Any], client: KubeClient) -> rollout.Plan:
        return rollout.plan_undo(client, v["deployment"], int(v.get("to_revision") or 0))


@register
class Restart(_Action):
    name = "restart"
    fields = ("deployment", "timeout", *COMMON)
    verb, done = "restart", "restarted"

    def plan(self, v: dict[str, Any], client: KubeClient) -> rollout.Plan:
        return rollout.plan_restart(client, v["deployment"])


@register
class Scale(_Action):
    name = "scale"
    fields = ("deployment", "replicas", "current_replicas", "out_only", "timeout", *COMMON)
    required = ("deployment", "replicas")
    types = {"replicas": (int, str), "current_replicas": (int, str), "out_only": bool}
    verb, done = "scale", "scaled"

    def plan(self, v: dict[str, Any], client: KubeClient) -> rollout.Plan:
        current = v.get("current_replicas")
        plan = rollout.plan_scale(
            client, v["deployment"], int(v["replicas"]), int(current) if current is not None else None
        )
        running = plan.before["spec"].get("replicas", 1)
        if v.get("out_only") and running >= int(v["replicas"]):
            # A runbook's "scale out" must never become a scale-in on a deployment that
            # someone already scaled further.
            return replace(
                plan,
                skipped=f"{plan.deployment} already runs {running} replicas (this step only scales out, "
                f"to {v['replicas']})",
            )
        return plan


@register
class SetEnv(_Action):
    name = "set-env"
    fields = ("deployment", "env", "container", "timeout", *COMMON)
    required = ("deployment", "env")
    types = {"env": dict}
    verb, done = "set env on", "env updated"

    def plan(self, v: dict[str, Any], client: KubeClient) -> rollout.Plan:
        env = {str(k): (None if value is None else str(value)) for k, value in v["env"].items()}
        return rollout.plan_set_env(client, v["deployment"], env, v.get("container"))
