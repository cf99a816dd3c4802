"""Open incidents, and the team's runs, from the store: newest first in the query, with a
limit, so a listing costs the same with a hundred runs or a hundred thousand.

Each query asks for one row more than it shows, to say that older ones exist without
counting them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ditsops.core.runs import RunFilter, RunSummary
from ditsops.store.connection import StoreSession, StoreUnreachable
from ditsops.store.schema import SCHEMA

if TYPE_CHECKING:
    from ditsops.store.reader import ReadSession

T = TypeVar("T")


@dataclass(frozen=True)
class Action:
    time: datetime | None
    who: str
    text: str
    run: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat() if self.time else None,
            "who": self.who,
            "text": self.text,
            "run": self.run,
        }


@dataclass(frozen=True)
class Acting:
    """A run of the incident still going (no run-end in the store), and what it holds."""

    who: str
    run: str
    runbook: str
    holding: str | None  # the target of a lease taken and not released
    lease: str = "unchecked"  # live, gone (the run no longer holds it: killed?), unchecked (acting.py)

    def to_json(self) -> dict[str, Any]:
        return {"who": self.who, "run": self.run, "runbook": self.runbook, "holding": self.holding, "lease": self.lease}


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    alert: str
    labels: dict[str, str]
    since: datetime
    opened_by: str
    state: str  # open, handed off, closed
    handed_to: str | None
    last: Action | None
    acting: list[Acting] = field(default_factory=list)
    applied: list[Action] = field(default_factory=list)  # the latest changes applied, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alerts": [{"alert": self.alert, "labels": self.labels}],
            "since": self.since.isoformat(),
            "opened_by": self.opened_by,
            "state": self.state,
            "handed_to": self.handed_to,
            "acting": [a.to_json() for a in self.acting],
            "last_action": self.last.to_json() if self.last else None,
            "applied": [a.to_json() for a in self.applied],
        }


def describe(kind: str, body: dict[str, Any]) -> str:
    """A run's event or an incident's event in a few words."""
    if kind == "applied":
        undo = body.get("undo")
        return f"applied {body.get('step', '?')}: {body.get('summary', '')}" + (f" (undo: {undo})" if undo else "")
    if kind == "decision":
        return (
            f"{'approved' if body.get('approved') else 'declined'} {body.get('step', '?')} on {body.get('target', '?')}"
        )
    if kind == "run-start":
        return f"started {body.get('runbook', '?')}"
    if kind == "run-end":
        return f"ended: {body.get('reason', '')}"
    if kind == "join":
        what = body.get("runbook") or "a run"
        return f"joined with {what}" + (f" (target {body['target']})" if body.get("target") else "")
    if kind == "handoff":
        return f"handed off to {body.get('to', '?')}: {body.get('note', '')}"
    if kind == "close":
        forced = " (forced while firing: " + ", ".join(body.get("firing") or []) + ")" if body.get("forced") else ""
        return f"closed{forced}" + (f": {body['note']}" if body.get("note") else "")
    return f"{kind}: {body.get('note', '')}"


MAX_APPLIED = 5  # the changes `incident list -o json` carries; `incident show` has them all
# Each row is one JSON document (text), so a reader on libpq (store/reader.py), which reads
# text, and a psycopg session get the same row and parse it the same way.
_LIST = f"""
SELECT json_build_array(i.id, i.alert, i.labels, i.opened, i.opened_by,
  (SELECT e.kind FROM {SCHEMA}.incident_events e WHERE e.incident = i.id AND e.kind IN ('close', 'reopen')
     ORDER BY e.seq DESC LIMIT 1),
  (SELECT e.body ->> 'to' FROM {SCHEMA}.incident_events e WHERE e.incident = i.id AND e.kind = 'handoff'
     ORDER BY e.seq DESC LIMIT 1),
  (SELECT json_build_array(e.time, e.who, e.kind, e.body, NULL) FROM {SCHEMA}.incident_events e
     WHERE e.incident = i.id AND e.kind <> 'join' ORDER BY e.seq DESC LIMIT 1),
  (SELECT json_build_array(ev.time, r.who, ev.kind, ev.body, r.id) FROM {SCHEMA}.runs r
     JOIN {SCHEMA}.events ev ON ev.run = r.id
     WHERE r.incident = i.id AND ev.kind IN ('run-start', 'applied', 'decision', 'run-end')
     ORDER BY ev.time DESC, ev.seq DESC LIMIT 1),
  (SELECT json_agg(json_build_array(r.who, r.id, r.runbook,
       (SELECT l.body ->> 'target' FROM {SCHEMA}.events l WHERE l.run = r.id AND l.kind = 'lease'
          AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.events f WHERE f.run = r.id AND f.kind = 'lease-released'
                          AND f.seq > l.seq) ORDER BY l.seq DESC LIMIT 1)))
     FROM {SCHEMA}.runs r WHERE r.incident = i.id
       AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.events x WHERE x.run = r.id AND x.kind = 'run-end'))
,
  (SELECT json_agg(a ORDER BY a ->> 0) FROM (SELECT json_build_array(ev.time, r.who, ev.kind, ev.body, r.id) a
     FROM {SCHEMA}.runs r JOIN {SCHEMA}.events ev ON ev.run = r.id
     WHERE r.incident = i.id AND ev.kind = 'applied' ORDER BY ev.time DESC LIMIT {MAX_APPLIED}) latest))::text
FROM {SCHEMA}.incidents i
"""


# The incidents whose last close/reopen is a close: one pass over those events (hashed),
# not a probe per incident, so listing the open few costs the same after years of closed ones.
CLOSED = f"""SELECT c.incident FROM {SCHEMA}.incident_events c WHERE c.kind = 'close' AND NOT EXISTS (
    SELECT 1 FROM {SCHEMA}.incident_events r WHERE r.incident = c.incident AND r.kind = 'reopen' AND r.seq > c.seq)"""


def list_incidents(
    session: StoreSession | ReadSession, *, limit: int | None = 20, closed: bool = False, only: str | None = None
) -> tuple[list[IncidentSummary], bool]:
    """The latest incidents (open ones unless `closed`), newest last; and whether older ones exist."""
    where: list[str] = []
    params: list[object] = []
    if not closed:
        where.append(f"i.id NOT IN ({CLOSED})")
    if only is not None:
        where.append("i.id = %s")
        params.append(only)
    query = _LIST + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY i.opened DESC, i.id DESC"
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit + 1)
    rows = session.execute(query, tuple(params)).fetchall()
    more = limit is not None and len(rows) > limit
    return _parsed(_summary, reversed(rows[:limit] if limit is not None else rows)), more


def _parsed(parse: Callable[[list[Any]], T], rows: Iterable[tuple[Any, ...]]) -> list[T]:
    """Each row's one JSON column (what the query built with json_build_array), parsed;
    a row that is not that is a malformed answer: one line, exit 4, never a traceback."""
    import json

    try:
        return [parse(json.loads(row[0])) for row in rows]
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError):
        raise StoreUnreachable("the record store answered a listing that is not what ditsops asked for") from None


def _action(raw: Any) -> Action | None:
    if not raw:
        return None
    time, who, kind, body, run = raw
    return Action(_time(time), str(who), describe(str(kind), body if isinstance(body, dict) else {}), run)


def _summary(row: list[Any]) -> IncidentSummary:
    ident, alert, labels, opened_at, opened_by, closing, handed_to, incident_last, run_last, acting, applied = row
    opened = _time(opened_at) or datetime.fromtimestamp(0, UTC)
    actions = [a for a in (_action(incident_last), _action(run_last)) if a is not None]
    last = max(actions, key=lambda a: a.time or opened) if actions else None
    state = "closed" if closing == "close" else "handed off" if handed_to else "open"
    return IncidentSummary(
        id=str(ident),
        alert=str(alert),
        labels={str(k): str(v) for k, v in (labels or {}).items()},  # not a mapping: malformed (_parsed)
        since=opened,
        opened_by=str(opened_by),
        state=state,
        handed_to=str(handed_to) if handed_to else None,
        last=last,
        acting=[Acting(str(w), str(r), str(b), h) for w, r, b, h in (acting or [])],
        applied=[a for a in map(_action, applied or []) if a is not None],
    )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


_RUNS = f"""
SELECT json_build_array(r.id, r.runbook, r.who, r.profile, r.started, r.incident,
  -- a direct command: its run-start's source is null ("None" from older versions)
  jsonb_typeof(s.body -> 'source') = 'null' OR s.body ->> 'source' = 'None',
  s.body -> 'options' ->> 'dry_run', s.body IS NOT NULL,
  e.kind, e.body -> 'exit_code', e.body ->> 'reason')::text
FROM {SCHEMA}.runs r
LEFT JOIN {SCHEMA}.events s ON s.run = r.id AND s.seq = 1
LEFT JOIN LATERAL (SELECT x.kind, x.body FROM {SCHEMA}.events x WHERE x.run = r.id ORDER BY x.seq DESC LIMIT 1) e
  ON true
"""


def store_runs(session: StoreSession | ReadSession, where: RunFilter) -> tuple[list[RunSummary], bool]:
    """The team's runs the filter keeps, the latest `limit`, newest last; and whether older ones exist."""
    conditions: list[str] = []
    params: list[object] = []
    for column, value in (("r.incident", where.incident), ("r.runbook", where.runbook), ("r.who", where.user)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    if where.since is not None:
        conditions.append("r.started >= %s")
        params.append(where.since)
    query = _RUNS + (" WHERE " + " AND ".join(conditions) if conditions else "") + " ORDER BY r.started DESC, r.id DESC"
    if where.limit is not None:
        query += " LIMIT %s"
        params.append(where.limit + 1)
    rows = session.execute(query, tuple(params)).fetchall()
    more = where.limit is not None and len(rows) > where.limit
    kept = rows[: where.limit] if where.limit is not None else rows
    return _parsed(_run, reversed(kept)), more


def _run(row: list[Any]) -> RunSummary:
    ident, runbook, who, profile, started, incident, direct, dry, has_source, kind, exit_code, reason = row
    ended = kind == "run-end"
    return RunSummary(
        run_id=str(ident),
        path=None,
        started=_time(started) if started else None,
        user=str(who),
        runbook=str(runbook),
        profile=str(profile or "?"),
        dry_run=dry == "true",
        exit_code=exit_code if ended and isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        verdict=str(reason or "") if ended else "no end in the store (still running, killed, or not yet synced)",
        incident=str(incident) if incident else None,
        direct=direct is True,
    )
