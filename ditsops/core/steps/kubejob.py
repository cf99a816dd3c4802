"""`kube: create-job` — run a CronJob now, like `kubectl create job NAME --from=cronjob/CRON`.

    - id: run-gc
      title: Run garbage collection now
      kube: create-job                 # destructive by kind: dry run, preview, confirm
      cronjob: dits-gc                 # templated; a DNS-1123 name
      namespace: "{{ namespace }}"     # optional: empty is the context's namespace
      wait: 2m                         # optional: follow the Job until Complete or Failed
      name: dits-gc-by-hand            # optional: default <cronjob>-manual-<5 random characters>

The Job's name is chosen at preview time, so the preview shows the exact name that apply
creates. With `wait`, a Job that fails is a failed step; one still running when the wait
runs out is applied with a warning (it was created: the record says so).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.durations import parse_duration
from ditsops.core import jobs
from ditsops.core.invocation import with_kubectl
from ditsops.core.model import Step
from ditsops.core.results import Preview, Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import ActionKind, FieldReader, RunContext
from ditsops.core.steps.kube import COMMON, KubeSpec, _KubeKind, kube_client
from ditsops.core.template import references_in

if TYPE_CHECKING:
    from ditsops.core.lease import KubeLease


def wait_seconds(value: Any) -> float:
    """`wait:` as seconds: a duration (2m), or 0 / absent for no wait."""
    if value is None or value == "" or value == 0 or str(value).strip() == "0":
        return 0.0
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r} is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)")
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return parse_duration(str(value)).total_seconds()


@register
class CreateJob(_KubeKind, ActionKind[KubeSpec]):
    name = "create-job"
    fields = ("cronjob", "name", "wait", *COMMON)
    required = ("cronjob",)

    def parse(self, value: Any, reader: FieldReader) -> KubeSpec:
        spec = super().parse(value, reader)
        checks = {
            "cronjob": lambda v: jobs.check_name(str(v), "cronjob"),
            "name": lambda v: jobs.check_name(str(v), "job name", jobs.MAX_NAME),
            "namespace": lambda v: jobs.check_name(str(v), "namespace", 63) if str(v) else v,
            "wait": wait_seconds,
        }
        for key, check in checks.items():
            raw = spec.fields.get(key)
            if raw is None or references_in(raw):
                continue  # placeholders are checked once filled, at run time
            try:
                check(raw)
            except ValueError as error:
                reader.problem(key, str(error))
        return spec

    def lease(self, step: Step, ctx: RunContext) -> KubeLease:
        """Two engineers running the same CronJob by hand would double the work: one lease per CronJob."""
        from ditsops.core.lease import kube_lease
        from ditsops.core.record import who

        v, _ = self._values(step, ctx)
        client = kube_client(ctx, v.get("namespace"))
        return kube_lease(client, client.namespace, str(v["cronjob"]), who(), ctx.run_id, step.id)

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        v = self.spec_of(step).values(params)
        return f"kube create-job --from=cronjob/{v.get('cronjob')}" + (f" name={v['name']}" if v.get("name") else "")

    def _values(self, step: Step, ctx: RunContext) -> tuple[dict[str, Any], float]:
        from ditsops.base.errors import UsageError

        v = self.spec_of(step).values(ctx.params)
        try:
            jobs.check_name(str(v.get("cronjob") or ""), "cronjob")
            if v.get("namespace"):
                jobs.check_name(str(v["namespace"]), "namespace", 63)
            return v, wait_seconds(v.get("wait"))
        except ValueError as error:
            raise UsageError(str(error)) from None

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        v, _ = self._values(step, ctx)
        client = kube_client(ctx, v.get("namespace") or None)
        plan = jobs.plan_create_job(client, str(v["cronjob"]), v.get("name") or None, ctx.settings.kube_context)
        plan = with_kubectl(ctx.settings, plan)  # `Equivalent:` and `undo:` pasteable as printed
        jobs.dry_run(client, plan)  # the server validates the Job; nothing is stored
        suspended = f"; cronjob/{plan.cronjob} is suspended (its schedule does not run; this runs anyway)"
        return Preview(
            target=plan.cronjob,
            summary=f"create job {plan.name} from cronjob/{plan.cronjob} in {plan.namespace} "
            f"({client.target.context})" + (suspended if plan.suspended else ""),
            table=Table(("container", "image", "command"), plan.containers()),
            command=plan.kubectl,
            items=plan,
            data={
                "kubectl": plan.kubectl,
                "undo": plan.undo,
                "job": plan.name,
                "before": jobs.summary_of(plan),
                "containers": [dict(zip(("name", "image", "command"), c, strict=True)) for c in plan.containers()],
                "notes": plan.notes,
            },
        )

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        v, wait = self._values(step, ctx)
        plan: jobs.JobPlan = preview.items
        client = kube_client(ctx, plan.namespace)
        created = jobs.create(client, plan)
        data = {
            "job": plan.name,
            "uid": created.get("metadata", {}).get("uid"),
            "before": jobs.summary_of(plan),
            "undo": plan.undo,
            "kubectl": plan.kubectl,
        }
        summary = f"created job {plan.name} from cronjob/{plan.cronjob}"
        ctx.accepted(summary, **data)  # on record before the wait for the job
        if not wait:
            return StepResult(Status.APPLIED, f"{summary}; undo: {plan.undo}", data=data | {"state": "created"})
        state, message = jobs.follow_job(client, plan.name, wait, ctx.report, sleep=ctx.sleep, clock=ctx.clock)
        data |= {"state": state, "status": message}
        if state == "failed":
            return StepResult(Status.ERROR, f"{summary}; {message}; undo: {plan.undo}", data=data)
        return StepResult(
            Status.APPLIED,
            f"{summary}; {message}; undo: {plan.undo}",
            warnings=[] if state == "complete" else [f"the job has not finished: {message}"],
            data=data,
        )
