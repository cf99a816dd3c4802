"""`unless_firing:` — a step another firing alert makes harmful is not offered while it fires.

    - id: scale-out
      kube: scale
      unless_firing: DatabaseConnectionsExhausted     # or a list of alert names

More API pods against an exhausted database each bring their own pool: the scale-out
waits until the database's own runbook has done its work. The step is skipped, saying
which alert fires and which runbook to run first; when the alerts could not be read the
guard is unknown, and a destructive step goes to the engineer as for an unknown condition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ALERT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")  # Prometheus' alert (metric) name syntax
MAX_GUARDS = 10


@dataclass(frozen=True)
class OtherAlert:
    """An alert firing while a runbook is walked, as the walk shows it."""

    name: str
    severity: str
    runbook: str | None  # the runbook that answers it
    command: str  # what to paste to walk it ("" without a runbook)

    def describe(self) -> str:
        answer = f": {self.command}" if self.command else " (no runbook answers it)"
        return f"{self.name} ({self.severity or 'no severity'}){answer}"


@dataclass(frozen=True)
class FiringNow:
    """The alerts firing when asked, or why they could not be read."""

    alerts: tuple[OtherAlert, ...] = ()
    problem: str | None = None  # Prometheus and Alertmanager both unreachable, ...

    def named(self, name: str) -> OtherAlert | None:
        return next((a for a in self.alerts if a.name == name), None)


def parse_guards(raw: Any, problem: Callable[[str], None]) -> tuple[str, ...]:
    items: Sequence[Any] = raw if isinstance(raw, list) else [raw]
    if len(items) > MAX_GUARDS:
        problem(f"unless_firing names at most {MAX_GUARDS} alerts")
        return ()
    names: list[str] = []
    for item in items:
        if not isinstance(item, str) or not ALERT_NAME.fullmatch(item.strip()):
            problem(f"unless_firing: {str(item)[:60]!r} is not an alert name (letters, digits, _)")
            continue
        names.append(item.strip())
    return tuple(dict.fromkeys(names))


def guard_reason(guards: tuple[str, ...], firing: FiringNow | None) -> tuple[str | None, str | None]:
    """(skip, unknown): why the step waits for another alert, or what about it is unknown."""
    if not guards:
        return None, None
    if firing is None or firing.problem is not None:
        why = firing.problem if firing and firing.problem else "the firing alerts were not read"
        return None, f"unless {', '.join(guards)} fires is unknown: {why}"
    hits = [hit for hit in (firing.named(name) for name in guards) if hit is not None]
    if not hits:
        return None, None
    return "; ".join(
        f"not while {hit.name} ({hit.severity or 'no severity'}) fires; "
        + (f"run its runbook first: {hit.command}" if hit.command else "no runbook answers it")
        for hit in hits
    ), None


MAX_OTHER_ALERTS = 5  # other firing alerts listed in a walk's header


def header_rows(own: str | None, firing: FiringNow | None) -> list[tuple[str, str]]:
    """A walk's header rows: the other alerts firing now, each with its runbook's command."""
    if firing is None:
        return []
    if firing.problem is not None:
        return [("also firing", f"unknown: {firing.problem}")]
    others = [a for a in firing.alerts if a.name != own]
    rows = [("also firing", a.describe()) for a in others[:MAX_OTHER_ALERTS]]
    if len(others) > MAX_OTHER_ALERTS:  # a storm of alerts must not push the walk off the screen
        rows.append(("also firing", f"and {len(others) - MAX_OTHER_ALERTS} more: ditsops alerts lists them"))
    return rows or [("also firing", "no other alert")]


def still_firing(own: str | None, firing: FiringNow) -> list[OtherAlert]:
    """The critical alerts besides the runbook's own that fire as a walk ends: its verdict
    names them, since the incident is not over because the walk is."""
    return [a for a in firing.alerts if a.name != own and a.severity.lower() == "critical"]
