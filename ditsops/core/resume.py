"""What a resumed run takes over from the run it continues (`runbook resume RUN`).

A resume is a new run whose parent is the old one. From the old run it takes:

- every step's last result, so `when:` conditions hold against them (a `--from` past the
  diagnostics still knows the error rate was failing);
- the fixes its backend accepted (an `applied` line, even when Ctrl-C cut the wait after
  it): they are not offered again, and a verify after them waits its whole window,
  counted from now (the resumed run cannot know how long the world has had since);
- its parameters and the incident it belonged to.

Diagnostics and previews are never taken over: the world moved since, so they run afresh.
Events come from the local record or from the store: the same lines either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ditsops.base.errors import UsageError
from ditsops.core.results import Status, StepResult

MAX_TEXT = 500  # a summary taken over from a record is shown again: bounded


@dataclass(frozen=True)
class Carried:
    """A fix the earlier run applied: what its backend accepted, and its undo."""

    summary: str
    undo: str | None
    at: str  # the record's timestamp of the apply (UTC, ISO 8601)
    run: str  # the run that applied it (a resume of a resume keeps the first)
    target: str | None = None  # what it acted on, as its preview named it (dits-server)


@dataclass(frozen=True)
class Prior:
    run_id: str
    runbook: str
    params: dict[str, str]
    results: dict[str, StepResult] = field(default_factory=dict)
    applied: dict[str, Carried] = field(default_factory=dict)
    incident: str | None = None


def _text(value: Any) -> str:
    return str(value)[:MAX_TEXT] if value is not None else ""


def _status(value: Any) -> Status | None:
    try:
        return Status(str(value))
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _target(data: Any, decided: str | None) -> str | None:
    target = data.get("target") if isinstance(data, dict) else None
    return _text(target) if isinstance(target, str) else decided


def prior_from_events(run_id: str, events: Iterable[dict[str, Any]]) -> Prior:
    """The earlier run as a resume sees it. A record is data from disk or from another
    engineer's store rows: fields of the wrong type are left out, never trusted."""
    start: dict[str, Any] | None = None
    results: dict[str, StepResult] = {}
    applied: dict[str, Carried] = {}
    targets: dict[str, str] = {}  # step -> the target its decision named
    for event in events:
        kind, step = event.get("event"), event.get("step")
        if kind == "run-start" and start is None:
            start = event
            continue
        if not isinstance(step, str):
            continue
        if kind == "decision" and isinstance(event.get("target"), str):
            targets[step] = _text(event["target"])
        if kind in ("step", "recheck"):
            status = _status(event.get("status"))
            if status is None:
                continue
            data = event.get("result") if kind == "step" else None
            results[step] = StepResult(
                status, _text(event.get("summary")), value=_number(event.get("value")), data=data
            )
            carried = data.get("carried") if isinstance(data, dict) else None
            if status == Status.APPLIED and step not in applied:
                undo = data.get("undo") if isinstance(data, dict) else None
                applied[step] = Carried(
                    _text(event.get("summary")),
                    undo if isinstance(undo, str) else None,
                    _text(event.get("ts")),
                    carried if isinstance(carried, str) else run_id,
                    _target(data, targets.get(step)),
                )
        elif kind == "applied" and step not in applied:
            # The backend took the change; a Ctrl-C in the wait after it leaves no `step` line.
            undo = event.get("undo")
            applied[step] = Carried(
                _text(event.get("summary")),
                undo if isinstance(undo, str) else None,
                _text(event.get("ts")),
                run_id,
                targets.get(step),
            )
            results.setdefault(step, StepResult(Status.APPLIED, _text(event.get("summary")), data={"undo": undo}))
    if start is None:
        raise UsageError(f"run {run_id} has no run-start line: nothing to resume from")
    runbook = start.get("runbook")
    if not isinstance(runbook, str) or not runbook:
        raise UsageError(f"run {run_id} does not name its runbook: nothing to resume from")
    for step in applied:  # a fix applied stays applied, whatever a later line of it says
        results[step] = StepResult(Status.APPLIED, applied[step].summary, data={"undo": applied[step].undo})
    raw_params = start.get("params")
    params = {str(k): str(v) for k, v in raw_params.items()} if isinstance(raw_params, dict) else {}
    incident = start.get("incident")
    return Prior(run_id, runbook, params, results, applied, incident if isinstance(incident, str) else None)
