"""Whether a step takes its turn: its `when:` conditions, the fixes a resumed run carries.

In a resumed run, conditions are decided by the earlier run's readings where it has them
(the branch it chose stays chosen; its diagnostics still run afresh and are shown, and the
verify decides on fresh readings). A condition is met, not met, or cannot be decided:

- its step has no result in this run (`--from` past it, and no earlier run to resume
  from): the step is skipped. A condition nobody checked never opens a branch (before,
  `--from restart` on a healthy service previewed a restart and a scale-out);
- its step failed to read (Prometheus unreachable): the condition is *unknown*. A
  diagnostic it gates is skipped, saying so; a destructive step is put to the engineer
  on a terminal with that said (default No), and refused without one — `--yes` approved
  what the runbook's conditions would decide, not a guess, so it never covers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ditsops.core.conditions import RUNS_WHEN, explain_unmet, holds
from ditsops.core.model import Condition, Step
from ditsops.core.results import Status, StepResult
from ditsops.core.resume import Prior

# Condition states that ask about an error themselves: an errored input answers them.
_ABOUT_ERRORS = frozenset({"error", "skipped"})


@dataclass(frozen=True)
class Gate:
    skip: str | None = None  # the step does not run: why
    carried: StepResult | None = None  # a fix the resumed run applied: its result, not offered again
    unknown: str | None = None  # an action whose condition cannot be decided: what is unknown


def carried_result(step: Step, prior: Prior) -> StepResult | None:
    done = prior.applied.get(step.id)
    if done is None:
        return None
    undo = f" (undo: {done.undo})" if done.undo else ""
    return StepResult(
        Status.APPLIED,
        f"applied in run {done.run}, not offered again: {done.summary}{undo}",
        data={"undo": done.undo, "carried": done.run, "applied_at": done.at, "target": done.target},
    )


def _is_unknown(condition: Condition, result: StepResult | None) -> bool:
    return result is not None and result.status == Status.ERROR and condition.state not in _ABOUT_ERRORS


def gate(
    step: Step,
    *,
    action: bool,
    results: dict[str, StepResult],
    prior: Prior | None,
    unit_of: Callable[[str], str | None],
) -> Gate:
    if action and prior is not None:
        carried = carried_result(step, prior)
        if carried is not None:
            return Gate(carried=carried)
    if prior is not None:
        # The earlier run's readings decided which branch it took: they keep deciding it, so a
        # fix still working its way in (the error rate lags a rollback) does not open the
        # next branch (a restart). Its errored readings give way to this run's.
        earlier = {k: r for k, r in prior.results.items() if r.status != Status.ERROR}
        results = {**results, **earlier}
    unknown = [c for c in step.when if _is_unknown(c, results.get(c.step))]
    decided = [c for c in step.when if c not in unknown]
    unmet = [c for c in decided if holds(c, results) is not True]
    if unmet:
        return Gate(skip="; ".join(explain_unmet(c, results.get(c.step), unit_of(c.step)) for c in unmet))
    if not unknown:
        return Gate()
    said = "; ".join(
        f"{c.describe()} is unknown: {c.step} could not be read ({_brief(results[c.step].summary)})" for c in unknown
    )
    if action:
        return Gate(unknown=said)
    return Gate(skip=f"{RUNS_WHEN} {said}")


def _brief(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
