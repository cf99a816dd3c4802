"""`verify:` — re-run an earlier diagnostic until it recovers, or until `within` runs out.

    - id: recount
      title: Connections after the fix
      verify: connections
      within: 1m

Its result replaces the verified step's for the run's outcome: the latest re-check of every
verified step decides whether the run resolved the incident (core/verdict.py). It waits
only after a change in this run — an applied action or a manual step the engineer ticked
off, or a fix the run it resumes applied — otherwise one re-check says how things stand.
A re-check that cannot reach its target (Prometheus down) is no answer: it re-checks
until the window ends, and only then says since when it could not see. While it waits it reports the latest
value and the time left, in place on a terminal, a line per re-check elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ditsops.base.durations import format_duration, parse_duration
from ditsops.core.model import Step
from ditsops.core.params import ParamValue
from ditsops.core.results import Status, StepResult
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind

# What counts as recovered for a verify step's `until` (the run's verdict uses it too).
RECOVERED = {"ok": {Status.OK, Status.INFO}, "not-failing": {Status.OK, Status.INFO, Status.WARNING}}


@dataclass(frozen=True)
class VerifySpec:
    step: str
    within: float  # seconds
    every: float
    until: str


@register
class VerifyKind(StepKind[VerifySpec]):
    key = "verify"
    spec_type = VerifySpec
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

    def describe(self, step: Step, params: dict[str, ParamValue]) -> str:
        spec = self.spec_of(step)
        return (
            f"re-run '{spec.step}' every {format_duration(spec.every)} until {spec.until}, "
            f"for at most {format_duration(spec.within)}"
        )

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        spec = self.spec_of(step)
        started = ctx.clock()
        deadline = started + spec.within if ctx.actions_applied else started
        unreachable_since: datetime | None = None  # the first of the re-checks that could not reach
        while True:
            result = ctx.rerun(spec.step)
            waited = ctx.clock() - started
            if result.unreachable:
                # Monitoring down is no answer: re-check within the window, and say since when.
                unreachable_since = unreachable_since or datetime.now(UTC)
                since = unreachable_since.strftime("%H:%M:%S")
                if ctx.clock() + spec.every <= deadline:
                    left = format_duration(max(0.0, deadline - ctx.clock()))
                    ctx.report(f"{spec.step} could not be read since {since} UTC: {result.summary} · {left} left")
                    ctx.sleep(spec.every)
                    continue
                result.data = {"unreachable_since": since, "verified": spec.step}
                result.summary = f"not verified: unreachable since {since} UTC: {result.summary}"
                return result
            unreachable_since = None
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
                    else "no change made in this run; still"
                )
                result.summary = f"{prefix}: {result.summary}"
                return result
            left = format_duration(max(0.0, deadline - ctx.clock()))
            ctx.report(
                f"{spec.step} {result.status}: {result.summary} · waiting until {spec.until}, {left} left", live=True
            )
            ctx.sleep(spec.every)
