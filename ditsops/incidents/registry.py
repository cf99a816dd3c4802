"""Finding, opening and joining incidents in the store.

An alert is known by its name and labels (what Alertmanager's fingerprint hashes too);
its start time is kept with the incident. A run for a firing alert joins the open
incident of that alert, or opens one; two engineers starting at once open one incident,
not two (an advisory lock on the alert's key, held for the transaction). Every incident
event gets the next seq under a lock on the incident, so concurrent hand-offs never
collide.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as random
from datetime import datetime
from typing import Any

from ditsops.base.errors import UsageError
from ditsops.store.connection import StoreSession
from ditsops.store.schema import SCHEMA

MAX_TEXT = 500  # a note, a name: bounded like everything else in the store
MAX_LABELS = 64
_ID = re.compile(r"inc-[0-9a-f]{6}\Z")
IGNORED_LABELS = frozenset({"severity"})  # a re-routed severity is still the same alert

# An incident is closed when its last close/reopen event is a close.
OPEN = f"""coalesce((SELECT e.kind FROM {SCHEMA}.incident_events e WHERE e.incident = i.id
    AND e.kind IN ('close', 'reopen') ORDER BY e.seq DESC LIMIT 1), 'open') <> 'close'"""


def alert_key(alert: str, labels: dict[str, str]) -> str:
    """The alert's identity: a hash of its name and identifying labels."""
    kept = {k: v for k, v in labels.items() if k not in IGNORED_LABELS and k != "alertname"}
    text = json.dumps([alert, sorted(kept.items())], ensure_ascii=False)
    return "labels:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def bounded(text: object, limit: int = MAX_TEXT) -> str:
    return str(text)[:limit]


def _lock(session: StoreSession, name: str) -> None:
    session.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))


def append(session: StoreSession, incident: str, kind: str, who: str, body: dict[str, Any]) -> int:
    """One incident event, with the next seq; returns it."""
    with session.conn.transaction():
        _lock(session, f"ditsops.incident:{incident}")
        row = session.execute(
            f"SELECT coalesce(max(seq), 0) + 1 FROM {SCHEMA}.incident_events WHERE incident = %s", (incident,)
        ).fetchone()
        seq = int(row[0])
        session.execute(
            f"INSERT INTO {SCHEMA}.incident_events (incident, seq, kind, who, body) VALUES (%s, %s, %s, %s, %s)",
            (incident, seq, kind, bounded(who, 200), json.dumps(body, ensure_ascii=False)),
        )
    return seq


def join_alert(
    session: StoreSession,
    alert: str,
    labels: dict[str, str],
    since: datetime | None,
    who: str,
    run: dict[str, str],
) -> tuple[str, bool]:
    """The open incident of this alert, joined by `run` (id, runbook), or a new one; and
    whether it was opened now."""
    labels = {bounded(k, 100): bounded(v) for k, v in list(labels.items())[:MAX_LABELS]}
    key = alert_key(alert, labels)
    with session.conn.transaction():
        _lock(session, f"ditsops.alert:{key}")
        found = session.execute(
            f"SELECT i.id FROM {SCHEMA}.incidents i WHERE i.fingerprints @> ARRAY[%s]::text[] AND {OPEN} "
            "ORDER BY i.opened DESC LIMIT 1",
            (key,),
        ).fetchone()
        opened = found is None
        incident = _new(session, alert, key, labels, since, who) if found is None else str(found[0])
    append(session, incident, "join", who, {**run, "alert": alert, "since": since.isoformat() if since else None})
    return incident, opened


def _new(session: StoreSession, alert: str, key: str, labels: dict[str, str], since: datetime | None, who: str) -> str:
    for _ in range(16):
        incident = f"inc-{random.token_hex(3)}"
        done = session.execute(
            f"INSERT INTO {SCHEMA}.incidents (id, alert, fingerprints, labels, opened, opened_by) "
            "VALUES (%s, %s, %s, %s, coalesce(%s, now()), %s) ON CONFLICT (id) DO NOTHING",
            (incident, bounded(alert, 200), [key], json.dumps(labels, ensure_ascii=False), since, bounded(who, 200)),
        )
        if done.rowcount:
            return incident
    raise UsageError("could not draw a free incident id")  # 16 collisions in 16 million: not in practice


def join_target(session: StoreSession, target: str, who: str, run: dict[str, str]) -> str | None:
    """The open incident whose alert names `target` in a label, or whose runs acted on it
    (the newest such), joined by this direct command; None when no open incident has it."""
    found = session.execute(
        f"""SELECT i.id FROM {SCHEMA}.incidents i WHERE {OPEN} AND (
            EXISTS (SELECT 1 FROM jsonb_each_text(i.labels) l WHERE l.value = %s)
            OR i.alert = %s
            OR EXISTS (SELECT 1 FROM {SCHEMA}.runs r JOIN {SCHEMA}.events e ON e.run = r.id
                WHERE r.incident = i.id AND e.kind IN ('preview', 'decision', 'lease') AND e.body ->> 'target' = %s))
        ORDER BY i.opened DESC LIMIT 1""",
        (target, target, target),
    ).fetchone()
    if found is None:
        return None
    incident = str(found[0])
    append(session, incident, "join", who, {**run, "target": bounded(target, 200)})
    return incident


def resolve(session: StoreSession, given: str) -> str:
    """An incident id from what was typed (the id, or `inc-` left out); UsageError if none."""
    text = given.strip().lower()
    wanted = text if text.startswith("inc-") else f"inc-{text}"
    if not _ID.match(wanted):
        raise UsageError(f"{given[:80]!r} is not an incident id (inc- and 6 hex digits)", hint="ditsops incident list")
    row = session.execute(f"SELECT id FROM {SCHEMA}.incidents WHERE id = %s", (wanted,)).fetchone()
    if row is None:
        raise UsageError(f"no incident {wanted} in the record store", hint="ditsops incident list")
    return str(row[0])
