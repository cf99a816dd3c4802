"""Walks a runbook: diagnostics run at once, destructive steps preview, ask, then apply.

The engine knows two things about a step kind: whether it is an action (destructive) and
how to call it. Everything said to the engineer goes through an Interaction, so the same
walk drives a terminal, a pipe, JSON output and the tests.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import FrameType

from ditsops.base.errors import (
    ConfigError,
    DitsopsError,
    ExitCode,
    Interrupted,
    RunAborted,
    TargetUnreachable,
    UsageError,
)
from ditsops.core import steps as step_kinds
from ditsops.core.acting import Acting
from ditsops.core.config import Settings
from ditsops.core.gating import gate
from ditsops.core.guards import FiringNow, guard_reason, header_rows, still_firing
from ditsops.core.invocation import ditsops_command, retarget_text
from ditsops.core.model import Escalation, Runbook, Step
from ditsops.core.params import ParamValue, display
from ditsops.core.prefetch import Prefetch
from ditsops.core.record import RunRecord, who
from ditsops.core.results import Preview, Status, StepResult
from ditsops.core.steps.base import ActionKind, RunContext
from ditsops.core.template import render_text
from ditsops.core.thresholds import evaluate, summarize
from ditsops.core.verdict import Walked, conclude
from ditsops.core.walk import Interaction, RunOptions, RunOutcome, StepOutcome

# What signal.signal returns and takes: a handler, SIG_DFL/SIG_IGN, or None (set from C).
_SignalHandler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class _Escalations:
    def __init__(
        self,
        reminders: tuple[Escalation, ...],
        started: float,
        clock: Callable[[], float],
        ui: Interaction,
        record: RunRecord,
    ) -> None:
        self.pending = list(reminders)
        self.started, self.clock, self.ui, self.record = started, clock, ui, record

    def check(self) -> None:
        elapsed = self.clock() - self.started
        while self.pending and self.pending[0].after.total_seconds() <= elapsed:
            reminder = self.pending.pop(0)
            self.record.write("escalation", after=reminder.after, say=reminder.say, elapsed=round(elapsed, 1))
            self.ui.escalate(reminder, elapsed)


def run_runbook(
    runbook: Runbook,
    params: dict[str, ParamValue],
    settings: Settings,
    ui: Interaction,
    options: RunOptions,
    record: RunRecord,
    target: list[tuple[str, str]],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunOutcome:
    ids = [s.id for s in runbook.steps]
    if options.from_step and options.from_step not in ids:
        raise UsageError(f"--from {options.from_step}: {runbook.name} has no such step (steps: {', '.join(ids)})")
    started = clock() - options.elapsed_before
    escalations = _Escalations(runbook.escalation, started, clock, ui, record)

    def sleep_and_watch(seconds: float) -> None:
        sleep(seconds)
        escalations.check()

    outcome = RunOutcome(
        runbook=runbook, record=record, report_command=ditsops_command(settings, "runbook", "report", record.run_id)
    )
    walker = _Walker(runbook, settings, params, ui, options, record, outcome, clock=clock, sleep=sleep_and_watch)
    prior = options.resumed
    outcome.parent = prior.run_id if prior else None
    walker.firing = options.firing() if options.firing else None
    if prior is not None:
        # Conditions hold against the earlier run's results until this run has its own;
        # a verify after a fix it applied waits as if the fix were just made.
        walker.ctx.results.update(prior.results)
        walker.ctx.actions_applied += len(prior.applied)

    record.write(
        "run-start",
        runbook=runbook.name,
        title=runbook.title,
        # null for a direct command's runbook, built in code: it has no file (readers also
        # take "None", what older versions wrote)
        source=str(runbook.source) if runbook.source is not None else None,
        params={k: display(v) for k, v in params.items()},
        target=dict(target),
        by=who(),
        # The seams for incidents and hand-off: the run this one continues, the incident it joins.
        parent=prior.run_id if prior else None,
        incident=options.incident or (prior.incident if prior else None),
        firing=[a.name for a in walker.firing.alerts] if walker.firing else None,
        options={
            "interactive": options.interactive,
            "yes": options.assume_yes,
            "dry_run": options.dry_run,
            "from": options.from_step,
            "confirm_targets": list(options.confirm_targets),
            "ignore_lease": options.ignore_lease,
        },
    )
    ui.run_started(runbook, params, target + header_rows(runbook.alert, walker.firing))
    restore = None
    try:
        active = options.from_step is None
        for number, step in enumerate(runbook.steps, 1):
            active = active or step.id == options.from_step
            if not active:
                continue
            escalations.check()
            walker.walk(step, number)
        _conclude(outcome)
        if options.firing is not None:
            ending = still_firing(runbook.alert, options.firing())
            outcome.still_firing = [a.name for a in ending]
            if ending:  # the walk may be over; the incident is not
                outcome.reason += "; still firing: " + "; ".join(a.describe() for a in ending)
    except KeyboardInterrupt:
        restore = _exit_on_next_interrupt()
        ui.run_interrupted()  # e.g. give the terminal its cursor back from a live line
        message = walker.acting.interrupted_message()
        outcome.exit_code, outcome.reason = ExitCode.INTERRUPTED, message
        record.write("run-end", exit_code=outcome.exit_code, reason=f"{message} (Ctrl-C)")
        raise Interrupted(message) from None
    except RunAborted as aborted:
        # A step found the run itself wrong (Alertmanager rejects its matchers): a usage
        # error for the whole run, not a failed step; the record still ends.
        record.write("run-end", exit_code=aborted.error.exit_code, reason=aborted.error.message)
        raise aborted.error from None
    except Exception as error:
        record.write("run-end", exit_code=ExitCode.ERROR, reason=f"internal error: {type(error).__name__}")
        raise
    finally:
        walker.ctx.close()
        if restore is not None:
            signal.signal(signal.SIGINT, restore)
    record.write("run-end", exit_code=outcome.exit_code, reason=outcome.reason)
    ui.run_finished(outcome)
    return outcome


def _exit_on_next_interrupt() -> _SignalHandler:
    """After the first Ctrl-C the run only writes its record and closes; a second Ctrl-C
    must not wait for that (a hung connection's close): it ends the process at once.
    Returns the handler to put back once the run has closed (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, lambda *_: os._exit(ExitCode.INTERRUPTED))


class _Walker:
    """Walks the steps in order. It is also the RunHooks of the steps' RunContext: what a
    step may ask of the walk (re-run a check, ask the engineer, report, record a change)."""

    def __init__(
        self,
        runbook: Runbook,
        settings: Settings,
        params: dict[str, ParamValue],
        ui: Interaction,
        options: RunOptions,
        record: RunRecord,
        outcome: RunOutcome,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.runbook, self.ui, self.options, self.record, self.outcome = runbook, ui, options, record, outcome
        self.ctx = RunContext(
            settings=settings,
            params=params,
            dry_run=options.dry_run,
            run_id=record.run_id,
            clock=clock,
            sleep=sleep,
            hooks=self,
        )
        self.total = len(runbook.steps)
        self.current: Step | None = None  # the step whose turn it is (progress is about it)
        self.prefetch = Prefetch(runbook.steps, self._measure)
        self.acting = Acting(self.ctx, ui, options, record)
        self.firing: FiringNow | None = None  # the alerts firing when the run started

    def walk(self, step: Step, number: int) -> None:
        kind = step_kinds.kind_of(step.kind)
        step = replace(step, title=render_text(step.title, self.ctx.params), why=render_text(step.why, self.ctx.params))
        gated = gate(
            step,
            action=isinstance(kind, ActionKind),
            results=self.ctx.results,
            prior=self.options.resumed,
            unit_of=self._unit_of,
        )
        guarded, unknown_guard = guard_reason(step.unless_firing, self.firing)
        if unknown_guard and not isinstance(kind, ActionKind):
            guarded = unknown_guard  # a read behind a guard nobody could check waits too
        if gated.skip is not None or gated.carried is not None or guarded is not None:
            result = gated.carried or StepResult(Status.SKIPPED, gated.skip or guarded or "")
            self._finish(step, result, 0.0, shown=None, number=number)
            return
        unknown = "; ".join(u for u in (gated.unknown, unknown_guard) if u) or None
        shown = retarget_text(self.ctx.settings, kind.describe(step, self.ctx.params))  # pasteable commands
        self.ui.step_started(step, number, self.total, shown)
        self.current = step
        preview = None
        self.prefetch.start_from(number - 1)
        ahead = self.prefetch.take(number - 1)
        if ahead is not None:
            result, seconds = ahead.result()
        elif isinstance(kind, ActionKind):
            began = self.ctx.clock()
            try:
                preview, result = self.acting.act(kind, step, unknown=unknown)
                self.acting.keep_undo(step, result, preview)
            except DitsopsError as error:
                result = self._failure(error)
            seconds = self.ctx.clock() - began
        else:
            result, seconds = self._measure(step)
        self._finish(step, result, seconds, shown=shown, number=number, preview=preview)

    def _measure(self, step: Step, ctx: RunContext | None = None) -> tuple[StepResult, float]:
        """A diagnostic's result and how long it took, failures included (callable from any thread)."""
        began = self.ctx.clock()
        try:
            result = self._diagnose(step_kinds.kind_of(step.kind), step, ctx or self.ctx)
        except DitsopsError as error:
            result = self._failure(error)
        return result, self.ctx.clock() - began

    @staticmethod
    def _failure(error: DitsopsError) -> StepResult:
        if isinstance(error, ConfigError):
            # A target this run has no settings for: say which setting, and go on with the others.
            hint = f" ({error.hint})" if error.hint else ""
            return StepResult(Status.SKIPPED, f"not configured: {error.message}{hint}", not_configured=True)
        return StepResult.failed(error.message, unreachable=isinstance(error, TargetUnreachable))

    def _diagnose(self, kind: step_kinds.AnyKind, step: Step, ctx: RunContext) -> StepResult:
        result = kind.run(step, ctx)
        result.unit = step.unit or result.unit  # the runbook's unit wins over the kind's own
        if result.value is not None and result.status == Status.INFO:
            result.status = evaluate(step.threshold, result.value)
            headline = summarize(result.value, result.unit, step.threshold, result.status)
            says_it = re.search(rf"(^|\s){re.escape(headline)}(\s|:|$)", result.summary) is not None
            if step.threshold is None and says_it:
                pass  # the summary already gives the value ("95 lines ...", "... rolled out 4m ago"): once
            else:
                result.summary = f"{headline} · {result.summary}" if result.summary else headline
        return result

    def _unit_of(self, step_id: str) -> str | None:
        """The unit of an earlier step's value, for saying why a condition on it is not met."""
        result = self.ctx.results.get(step_id)
        step = next((s for s in self.runbook.steps if s.id == step_id), None)
        return (step.unit if step else None) or (result.unit if result else None)

    # -- RunHooks: what a step may ask of the walk ------------------------------------------

    def manual(self, step: Step, text: str) -> bool | None:
        return self.ui.manual(step, text) if self.options.interactive else None

    def progress(self, message: str, live: bool) -> None:
        if self.current is not None:
            self.ui.progress(self.current, message, live=live)

    def applied(self, summary: str, data: dict[str, object]) -> None:
        self.acting.applied(summary, data)

    def rerun(self, step_id: str, params: Mapping[str, ParamValue] | None = None) -> StepResult:
        """Run an earlier diagnostic again (for verify) and record the new result as its latest;
        `params` (the verify's `with`) replace the walk's for this re-check, and the record
        says which, so the postmortem shows what the verdict read."""
        ctx = replace(self.ctx, params={**self.ctx.params, **params}) if params else self.ctx
        result, _ = self._measure(self.runbook.step(step_id), ctx)
        self.ctx.results[step_id] = result
        self.outcome.latest[step_id] = result
        extra = {"params": {k: display(v) for k, v in params.items()}} if params else {}
        self.record.write(
            "recheck", step=step_id, status=result.status, value=result.value, summary=result.summary, **extra
        )
        return result

    def _finish(
        self,
        step: Step,
        result: StepResult,
        seconds: float,
        *,
        shown: str | None,
        number: int,
        preview: Preview | None = None,
    ) -> None:
        self.ctx.results[step.id] = result
        self.outcome.latest[step.id] = result
        self.outcome.steps.append(StepOutcome(step, result, seconds, preview))
        self.record.write(
            "step",
            step=step.id,
            title=step.title,
            kind=step.kind,
            query=shown,
            status=result.status,
            summary=result.summary,
            value=result.value,
            seconds=round(seconds, 3),
            warnings=result.warnings,
            result=result.data,
        )
        if shown is None:
            self.ui.step_started(step, number, self.total, "")
        self.ui.step_finished(step, result)


def _conclude(outcome: RunOutcome) -> None:
    verdict = conclude(
        [Walked(o.step, o.result) for o in outcome.steps],
        outcome.latest,
        {s.id: s for s in outcome.runbook.steps},
        outcome.runbook.escalation,
    )
    outcome.exit_code, outcome.reason = verdict.exit_code, verdict.reason
