"""Declarative `when:` conditions on earlier steps' results.

Forms accepted (a list means all must hold):
    when: error-rate failing
    when: connections is not-ok
    when: connections above 80
    when: [connections failing, long-queries not-ok]
"""

from __future__ import annotations

from typing import Any

from ditsops.base.units import format_value
from ditsops.core.model import CONDITION_STATES, Condition
from ditsops.core.results import Status, StepResult


def parse_condition(text: str) -> Condition:
    words = str(text).split()
    if len(words) == 3 and words[1] == "is":
        words = [words[0], words[2]]
    if len(words) == 2 and words[1] in CONDITION_STATES:
        return Condition(step=words[0], state=words[1])
    if len(words) == 3 and words[1] in ("above", "below"):
        try:
            return Condition(step=words[0], comparison=words[1], bound=float(words[2]))
        except ValueError:
            pass
    raise ValueError(
        f"cannot read condition {text!r}: expected '<step> <state>' with state one of "
        f"{', '.join(CONDITION_STATES)}, or '<step> above|below <number>'"
    )


def parse_conditions(raw: Any) -> tuple[Condition, ...]:
    items = raw if isinstance(raw, list) else [raw]
    return tuple(parse_condition(item) for item in items)


_STATE_MATCH = {
    "ok": {Status.OK, Status.INFO},
    "warning": {Status.WARNING},
    "failing": {Status.FAILING},
    "not-ok": {Status.WARNING, Status.FAILING},
    "applied": {Status.APPLIED},
    "declined": {Status.DECLINED, Status.REFUSED},
    "skipped": {Status.SKIPPED},
    "error": {Status.ERROR},
}


def holds(condition: Condition, results: dict[str, StepResult]) -> bool | None:
    """True/False, or None when the step it depends on has not run in this run (--from)."""
    result = results.get(condition.step)
    if result is None:
        return None
    if condition.state:
        return result.status in _STATE_MATCH[condition.state]
    if result.value is None or condition.bound is None:
        return False
    if condition.comparison == "above":
        return result.value > condition.bound
    return result.value < condition.bound


# How a skip reason starts; the verdict tells a step skipped for its condition by it.
RUNS_WHEN = "runs when"


def explain_unmet(condition: Condition, result: StepResult | None, unit: str | None) -> str:
    """What a skipped step needed and what was found: `runs when connections is ok; it is
    failing (94.0%)`. Values in the step's unit, without its words (a bound is no age)."""
    if condition.state:
        wanted = f"{condition.step} is {condition.state}"
    else:
        wanted = f"{condition.step} is {condition.comparison} {format_value(condition.bound, unit, words=False)}"
    if result is None:
        return f"{RUNS_WHEN} {wanted}; it did not run"
    value = format_value(result.value, unit, words=False) if result.value is not None else None
    if condition.state:
        found = f"it is {result.status}" + (f" ({value})" if value else "")
    else:
        found = f"it is {value}" if value else f"it has no value ({result.status})"
    return f"{RUNS_WHEN} {wanted}; {found}"
