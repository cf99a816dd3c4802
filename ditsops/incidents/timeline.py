"""One incident as one story: every engineer's runs and the incident's own events, merged
by time; the changes applied with their undo, each run's verdict, what was left undone and
the next step.

Read from the store with one query per table, bounded: an incident with more events than
MAX_EVENTS shows its first ones and says the rest were left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ditsops.core.runs import WORDS
from ditsops.incidents.acting import with_live_leases
from ditsops.incidents.listing import IncidentSummary, describe, list_incidents
from ditsops.store.connection import StoreSession
from ditsops.store.schema import SCHEMA

if TYPE_CHECKING:
    from ditsops.core.config import Settings

MAX_EVENTS = 2000
SHOWN = ("run-start", "applied", "decision", "run-end", "lease-override", "state-moved")


@dataclass(frozen=True)
class Entry:
    time: datetime
    who: str
    run: str | None  # None: an event of the incident itself
    kind: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "who": self.who, "run": self.run, "kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class Change:
    time: datetime
    who: str
    run: str
    step: str
    summary: str
    undo: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "who": self.who,
            "run": self.run,
            "step": self.step,
            "summary": self.summary,
            "undo": self.undo,
        }


@dataclass(frozen=True)
class Verdict:
    run: str
    who: str
    runbook: str
    exit_code: int | None
    reason: str

    @property
    def word(self) -> str:
        return "no end" if self.exit_code is None else WORDS.get(self.exit_code, f"exit {self.exit_code}")

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "who": self.who,
            "runbook": self.runbook,
            "exit_code": self.exit_code,
            "verdict": self.word,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentSummary
    timeline: list[Entry]
    changes: list[Change]
    verdicts: list[Verdict]
    undone: list[str]
    next_step: str
    truncated: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.incident.to_json(),
            "timeline": [e.to_json() for e in self.timeline],
            "applied": [c.to_json() for c in self.changes],
            "verdicts": [v.to_json() for v in self.verdicts],
            "left_undone": self.undone,
            "next_step": self.next_step,
            "truncated": self.truncated,
        }


def incident_detail(session: StoreSession, incident: str, settings: Settings | None = None) -> IncidentDetail:
    """settings: where to check the acting runs' leases (see acting.py); None: unchecked."""
    (summary,), _ = list_incidents(session, limit=1, closed=True, only=incident)
    if settings is not None:
        (summary,) = with_live_leases(settings, [summary])
    own = session.execute(
        f"SELECT time, who, kind, body FROM {SCHEMA}.incident_events WHERE incident = %s ORDER BY seq LIMIT %s",
        (incident, MAX_EVENTS),
    ).fetchall()
    runs = session.execute(
        f"""SELECT ev.time, r.who, r.id, r.runbook, ev.kind, ev.body FROM {SCHEMA}.runs r
        JOIN {SCHEMA}.events ev ON ev.run = r.id
        WHERE r.incident = %s AND ev.kind = ANY(%s) ORDER BY ev.time, r.id, ev.seq LIMIT %s""",
        (incident, list(SHOWN), MAX_EVENTS + 1),
    ).fetchall()
    truncated = len(runs) > MAX_EVENTS or len(own) >= MAX_EVENTS
    timeline = [Entry(summary.since, summary.opened_by, None, "open", f"opened for {summary.alert}")]
    timeline += [Entry(t, str(w), None, str(k), describe(str(k), b or {})) for t, w, k, b in own]
    changes: list[Change] = []
    verdicts: dict[str, Verdict] = {}
    undone: list[str] = []
    for time, who, run, runbook, kind, body in runs[:MAX_EVENTS]:
        body = body if isinstance(body, dict) else {}
        timeline.append(Entry(time, str(who), str(run), str(kind), describe(str(kind), body)))
        if kind == "run-start":
            verdicts[run] = Verdict(str(run), str(who), str(runbook), None, "no end in the store")
        elif kind == "applied":
            undo = body.get("undo")
            changes.append(
                Change(
                    time,
                    str(who),
                    str(run),
                    str(body.get("step", "?")),
                    str(body.get("summary", "")),
                    undo and str(undo),
                )
            )
        elif kind == "decision" and not body.get("approved"):
            undone.append(f"{body.get('step', '?')} on {body.get('target', '?')}: declined by {who} ({run})")
        elif kind == "run-end":
            code = body.get("exit_code")
            code = code if isinstance(code, int) and not isinstance(code, bool) else None
            verdicts[run] = Verdict(str(run), str(who), str(runbook), code, str(body.get("reason", "")))
    timeline.sort(key=lambda e: e.time)
    for verdict in verdicts.values():
        if verdict.exit_code not in (0, None) and verdict.word != "usage":
            undone.append(f"{verdict.runbook} ({verdict.run}, {verdict.who}): {verdict.reason}")
    return IncidentDetail(
        summary,
        timeline,
        changes,
        list(verdicts.values()),
        undone,
        _next_step(summary, list(verdicts.values())),
        truncated,
    )


def _next_step(incident: IncidentSummary, verdicts: list[Verdict]) -> str:
    """What the next engineer should do first, from how the story ends."""
    if incident.state == "closed":
        return "nothing: the incident is closed"
    busy = [a for a in incident.acting if a.lease != "gone"]  # gone: killed with its lease lost
    if busy:
        names = ", ".join(f"{a.who} ({a.runbook})" for a in busy)
        return f"coordinate with {names}: a run of this incident has not ended"
    last = verdicts[-1] if verdicts else None
    if incident.handed_to and (last is None or (incident.last and incident.last.text.startswith("handed off"))):
        return f"{incident.handed_to} takes over (see the hand-off note)"
    if last is None:
        return f"ditsops runbook --alert {incident.alert}"
    if last.exit_code == 0:
        return f"when {incident.alert} no longer fires: ditsops incident close {incident.id}"
    if last.exit_code == 130 or last.exit_code is None:
        return f"resume the interrupted run: ditsops runbook resume {last.run}"
    return f"{last.runbook} ended {last.word}: {last.reason}"
