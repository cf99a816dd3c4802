"""`verify:` — re-run an earlier diagnostic until it recovers, or until `within` runs out.

    - id: recount
      title: Connections after the fix
      verify: connections
      within: 1m

Its result replaces the verified step's for the run's outcome, so a run whose fix worked
does not end as a failed check. It only waits when an action was applied during the run;
otherwise one re-check says how things stand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ditsops.core.durations import format_duration, parse_duration
from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind

RECOVERED = {"ok": {Status.OK, Status.INFO}, "not-failing": {Status.OK, Status.INFO, Status.WARNING}}


@dataclass(frozen=True)
class VerifySpec:
    step: str
    within: float  # seconds
    every: float
    until: str


@register
class VerifyKind(StepKind):
    key = "verify"
    fields = ("within", "every", "until")
    concludes = True

    def parse(self, value: Any, reader: FieldReader) -> VerifySpec | None:
        if not isinstance(value, str):
            reader.problem("verify", "'verify' must name an earlier step")
            return None
        within = every = 0.0
        try:
            within = parse_duration(str(reader.get("within", (str, int), default="1m"))).total_seconds()
            every = parse_duration(str(reader.get("every", (str, int), default="2s"))).total_seconds()
        except ValueError as error:
            reader.problem("within", str(error))
        until = reader.get("until", str, default="ok")
        if until not in RECOVERED:
            reader.problem("until", f"'until' must be one of {', '.join(RECOVERED)}")
        return VerifySpec(value.strip(), within, max(every, 0.5), until)

    def step_references(self, spec: VerifySpec | None) -> set[str]:
        return {spec.step} if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        spec: VerifySpec = step.spec
        return f"re-run '{spec.step}' every {format_duration(spec.every)} until {spec.until}, for at most {format_duration(spec.within)}"

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        spec: VerifySpec = step.spec
        started = ctx.clock()
        deadline = started + spec.within if ctx.actions_applied else started
        while True:
            result = ctx.rerun(spec.step)
            waited = ctx.clock() - started
            if result.status in (Status.ERROR, Status.SKIPPED):
                return result
            if result.status in RECOVERED[spec.until]:
                if ctx.actions_applied:
                    after = f" (after {format_duration(waited)})" if waited >= 1 else ""
                    result.summary = f"recovered{after}: {result.summary}"
                return result
            if ctx.clock() + spec.every > deadline:
                prefix = (
                    f"not recovered after {format_duration(waited)}"
                    if ctx.actions_applied
                    else "no change applied in this run; still"
                )
                result.summary = f"{prefix}: {result.summary}"
                return result
            ctx.sleep(spec.every)
