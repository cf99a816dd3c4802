"""A run's lines read back from the store, for `runbook resume` from another machine.

The store holds each line as written (`line`) beside its hash: a line whose hash does not
match, or that does not follow the one before it, is not taken (an edited row is caught
here as `runbook verify` would catch it).
"""

from __future__ import annotations

import json
from typing import Any

from ditsops.base.errors import UsageError
from ditsops.core.record import genesis_hash, line_hash
from ditsops.store.connection import StoreRefused, StoreSession
from ditsops.store.schema import SCHEMA

MAX_EVENTS = 10_000  # a run's lines read back at most (a record is bounded the same way)


def run_ids_like(session: StoreSession, prefix: str) -> list[str]:
    rows = session.execute(
        f"SELECT id FROM {SCHEMA}.runs WHERE starts_with(id, %s) ORDER BY id LIMIT 3", (prefix,)
    ).fetchall()
    return [str(row[0]) for row in rows]


def find_store_run(session: StoreSession, run: str) -> str:
    """The one run id the store has for an id or unique prefix (else exit 2, as locally)."""
    ids = run_ids_like(session, run)
    exact = [i for i in ids if i == run]
    if exact:
        return exact[0]
    if len(ids) != 1:
        what = "matches no run" if not ids else "matches several runs"
        raise UsageError(f"{run!r} {what} in the local records or the record store", hint="ditsops runbook runs")
    return ids[0]


def store_events(session: StoreSession, run_id: str) -> list[dict[str, Any]]:
    """The run's events in order, each line checked against its hash and chain."""
    rows = session.execute(
        f"SELECT seq, line, prev, hash FROM {SCHEMA}.events WHERE run = %s ORDER BY seq LIMIT %s",
        (run_id, MAX_EVENTS),
    ).fetchall()
    expected = genesis_hash(run_id)
    events: list[dict[str, Any]] = []
    for seq, line, prev, digest in rows:
        raw = str(line).encode("utf-8")
        if len(events) + 1 != seq or prev != expected or line_hash(raw) != digest:
            raise StoreRefused(f"run {run_id}: the store's event {seq} does not verify (changed or out of order)")
        entry = json.loads(raw)
        if not isinstance(entry, dict) or entry.get("prev") != prev:
            raise StoreRefused(f"run {run_id}: the store's event {seq} does not verify (changed)")
        events.append(entry)
        expected = digest
    return events
