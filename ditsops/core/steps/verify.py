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

What a re-check may read after a change, so that a recovery is the fix's own:

    - id: recovered
      verify: error-rate
      with: {window: "{{ recheck_window }}"}   # re-run error-rate over this window instead
      after: "{{ recheck_after }}"             # first re-check this long after the change ended

A rate over the walk's window would mix requests served before the fix with those after
it; a short window read once it lies wholly after the change holds only the new ones.
A re-check that returns no value at all (no series: nothing served yet in the window) is
no evidence either way: it keeps waiting, and ends the window as an error, never recovered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ditsops.base.durations import format_duration, parse_duration
from ditsops.core.model import Step
from ditsops.core.params import ParamSpec, ParamValue, display
from ditsops.core.results import Status, StepResult
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import PLACEHOLDER, render_text

# What counts as recovered for a verify step's `until` (the run's verdict uses it too).
RECOVERED = {"ok": {Status.OK, Status.INFO}, "not-failing": {Status.OK, Status.INFO, Status.WARNING}}


@dataclass(frozen=True)
class VerifySpec:
    step: str
    within: float  # seconds
    every: float
    until: str
    # (parameter, parameter whose value it takes) for the re-checks: `with: {window: "{{ w }}"}`
    with_params: tuple[tuple[str, str], ...] = ()
    after: str | None = None  # a duration, or a lone placeholder of a duration parameter


@register
class VerifyKind(StepKind[VerifySpec]):
    key = "verify"
    spec_type = VerifySpec
    fields = ("within", "every", "until", "with", "after")
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
        after = _parse_after(reader)
        if after and not PLACEHOLDER.fullmatch(after) and parse_duration(after).total_seconds() >= within > 0:
            reader.problem("after", f"'after' ({after}) must be shorter than 'within': no re-check would be left")
        return VerifySpec(value.strip(), within, max(every, 0.5), until, _parse_with(reader), after)

    def step_references(self, spec: VerifySpec | None) -> set[str]:
        return {spec.step} if spec else set()

    def references(self, spec: VerifySpec) -> set[str]:
        names = {name for name, _ in spec.with_params} | {source for _, source in spec.with_params}
        after = PLACEHOLDER.fullmatch(spec.after) if spec.after else None
        return names | ({after.group(1)} if after else set())

    def check_params(self, spec: VerifySpec, params: dict[str, ParamSpec]) -> list[tuple[str, str]]:
        problems = []
        for name, source in spec.with_params:
            if name in params and source in params and params[name].type != params[source].type:
                problems.append(
                    ("with", f"'with' gives {name} ({params[name].type}) the value of {source} ({params[source].type})")
                )
        after = PLACEHOLDER.fullmatch(spec.after) if spec.after else None
        if after and after.group(1) in params and params[after.group(1)].type != "duration":
            problems.append(("after", f"'after' must be a duration; {after.group(1)} is {params[after.group(1)].type}"))
        return problems

    def describe(self, step: Step, params: dict[str, ParamValue]) -> str:
        spec = self.spec_of(step)
        where = ", ".join(f"{name}={display(params.get(source))}" for name, source in spec.with_params)
        settle = _settle_seconds(spec, params)
        after = f", from {format_duration(settle)} after the change" if settle else ""
        return (
            f"re-run '{spec.step}'{f' with {where}' if where else ''} every {format_duration(spec.every)} "
            f"until {spec.until}{after}, for at most {format_duration(spec.within)}"
        )

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        spec = self.spec_of(step)
        started = ctx.clock()
        deadline = started + spec.within if ctx.actions_applied else started
        overrides = {name: ctx.params.get(source) for name, source in spec.with_params}
        if ctx.actions_applied:
            # Only what was served after the change may speak for it: wait until the re-check's
            # window lies wholly after it (a change by the resumed run: counted from now).
            changed_at = ctx.changed_at if ctx.changed_at is not None else started
            settle = changed_at + _settle_seconds(spec, ctx.params) - ctx.clock()
            if settle > 0:
                left = format_duration(settle)
                ctx.report(f"first re-check in {left}, with only what came after the change", live=True)
                ctx.sleep(settle)
        unreachable_since: datetime | None = None  # the first of the re-checks that could not reach
        while True:
            result = ctx.rerun(spec.step, overrides)
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
            no_data = result.status == Status.INFO and result.value is None
            if no_data and ctx.clock() + spec.every > deadline:
                # Nothing to compare with the threshold is no recovery (the verdict reads this result).
                result.status = Status.ERROR
                result.summary = f"not verified: no data after {format_duration(waited)}: {result.summary}"
                return result
            if result.status in RECOVERED[spec.until] and not no_data:
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


def _parse_with(reader: FieldReader) -> tuple[tuple[str, str], ...]:
    """`with: {param: "{{ other }}"}`: each value a lone placeholder, so the re-check gets a
    value already typed and validated as the walk's parameters were."""
    raw = reader.get("with", dict, default={})
    pairs = []
    for name, value in raw.items():
        whole = PLACEHOLDER.fullmatch(value.strip()) if isinstance(value, str) else None
        if not isinstance(name, str) or whole is None:
            reader.problem("with", "'with' maps a parameter to a lone placeholder, e.g. window: \"{{ name }}\"")
            continue
        pairs.append((name, whole.group(1)))
    return tuple(pairs)


def _parse_after(reader: FieldReader) -> str | None:
    raw = reader.get("after", (str, int))
    if raw is None:
        return None
    text = str(raw).strip()
    if PLACEHOLDER.fullmatch(text):
        return text
    try:
        parse_duration(text)
    except ValueError as error:
        reader.problem("after", f"'after': {error}")
        return None
    return text


def _settle_seconds(spec: VerifySpec, params: dict[str, ParamValue]) -> float:
    """How long after the change the first re-check comes: `after`, and never sooner than the
    longest window the re-check reads with (a --set recheck_window=1m beside a 4 s `after`
    would mix the old pods' requests in again)."""
    windows = (params.get(source) for _, source in spec.with_params)
    longest = max((v.total_seconds() for v in windows if isinstance(v, timedelta)), default=0.0)
    return max(_after_seconds(spec, params), longest)


def _after_seconds(spec: VerifySpec, params: dict[str, ParamValue]) -> float:
    text = render_text(spec.after or "0s", {k: v for k, v in params.items() if v is not None})
    try:
        return parse_duration(text).total_seconds()
    except (KeyError, ValueError):
        return 0.0  # the loader checked it is a duration; an unset parameter waits for nothing
