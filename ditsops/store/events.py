"""Record lines into the store, and the sync of what the outbox (outbox.py) holds.

Every insert is keyed by (run id, seq) with `ON CONFLICT DO NOTHING`: a line sent twice
(the writer and a sync racing, a sync after a lost answer) is stored once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ditsops.base import paths
from ditsops.core.record import line_hash
from ditsops.core.recordfile import writer_alive
from ditsops.store.connection import StoreRefused, StoreSession, where
from ditsops.store.outbox import pending_runs, unmark
from ditsops.store.schema import SCHEMA

MAX_TEXT = 200  # runbook, who, profile as stored in runs: bounded like the ids

_RUN_INSERT = f"""
INSERT INTO {SCHEMA}.runs (id, runbook, who, profile, started, parent, incident)
VALUES (
    %s, %s, %s, %s, %s,
    (SELECT id FROM {SCHEMA}.runs WHERE id = %s),
    (SELECT id FROM {SCHEMA}.incidents WHERE id = %s)
) ON CONFLICT (id) DO NOTHING
"""
# parent: a parent the store never had (recorded before the store existed) is left NULL, not
# refused; incident: the one the run-start line names, when the store has it (a line naming
# an incident the store never had, forged or from another store, links to none)
# time, kind and body are derived from the line by the store's trigger (the body sent
# stands only for a line PostgreSQL cannot read as JSON: see body_of)
_EVENT_INSERT = f"""
INSERT INTO {SCHEMA}.events (run, seq, time, kind, body, line, prev, hash)
VALUES (%s, %s, now(), '', %s::jsonb, %s, %s, %s) ON CONFLICT (run, seq) DO NOTHING
"""


def _text(value: Any, default: str = "?") -> str:
    return str(value)[:MAX_TEXT] if value not in (None, "") else default


def insert_run(session: StoreSession, run_id: str, start: dict[str, Any]) -> None:
    """The run's row, from its `run-start` line (a record without one still gets a row)."""
    target = start.get("target")
    profile = target.get("profile") if isinstance(target, dict) else None
    session.execute(
        _RUN_INSERT,
        (
            run_id,
            _text(start.get("runbook")),
            _text(start.get("by")),
            _text(profile, "") or None,
            start.get("ts") or "now",
            start.get("parent") if isinstance(start.get("parent"), str) else None,
            _text(start.get("incident"), "") or None,
        ),
    )


def body_of(text: str) -> Any:
    """A line's body as the store keeps it: its JSON, with what JSONB cannot hold made
    storable the same way on both sides (NUL escapes as U+FFFD, which the trigger does
    too; NaN and Infinity, which Python writes and JSON lacks, as strings)."""
    return json.loads(text.replace("\\u0000", "\\ufffd"), parse_constant=str)


def insert_event(session: StoreSession, run_id: str, seq: int, text: str, prev: str, digest: str) -> None:
    body = json.dumps(body_of(text), ensure_ascii=False)
    if session.execute(_EVENT_INSERT, (run_id, seq, body, text, prev, digest)).rowcount:
        return
    # Already there: sent before (a replay, harmless), or someone else's line under our key.
    row = session.execute(f"SELECT hash FROM {SCHEMA}.events WHERE run = %s AND seq = %s", (run_id, seq)).fetchone()
    if row and row[0] != digest:
        raise StoreRefused(f"the store already holds another event {seq} of run {run_id} (inserted by someone else)")


def stored_count(session: StoreSession, run_id: str) -> int:
    row = session.execute(f"SELECT coalesce(max(seq), 0) FROM {SCHEMA}.events WHERE run = %s", (run_id,)).fetchone()
    return int(row[0]) if row else 0


# --- sync ---------------------------------------------------------------------------


@dataclass
class SyncReport:
    runs: int = 0  # runs that had lines sent
    events: int = 0  # lines the store did not have
    problems: list[str] = field(default_factory=list)  # runs the store refused (verify tells more)

    def summary(self) -> str:
        runs = "1 run" if self.runs == 1 else f"{self.runs} runs"
        events = "1 event" if self.events == 1 else f"{self.events} events"
        return f"record store: {runs} synced ({events} it did not have)"


def complete_lines(path: Path) -> list[bytes]:
    """The record's lines that end in a newline (a cut last line is not evidence of anything)."""
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def record_run_id(lines: list[bytes], path: Path) -> str:
    """The run id the record names in its first line (a renamed copy keeps its run)."""
    try:
        first = json.loads(lines[0]) if lines else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        first = {}
    run = first.get("run") if isinstance(first, dict) else None
    return run if isinstance(run, str) and run else path.stem


def sync_record(session: StoreSession, path: Path) -> int:
    """Send the lines of one local record the store lacks, in order; how many were sent."""
    lines = complete_lines(path)
    run_id = record_run_id(lines, path)
    have = stored_count(session, run_id)
    if have >= len(lines):
        return 0
    entries: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, 1):
        try:
            entry = json.loads(raw)
            text = raw.decode("utf-8")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise StoreRefused(f"line {number} is not a JSON record line; nothing after it was sent") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("prev"), str):
            raise StoreRefused(f"line {number} has no `prev`; nothing after it was sent")
        entries.append({"entry": entry, "text": text, "hash": line_hash(raw)})
    if have == 0:
        insert_run(session, run_id, entries[0]["entry"])
    for seq in range(have + 1, len(lines) + 1):
        item = entries[seq - 1]
        insert_event(session, run_id, seq, item["text"], item["entry"]["prev"], item["hash"])
    return len(lines) - have


def sync_pending(
    session: StoreSession, directory: Path | None = None, *, every: bool = False, skip: str | None = None
) -> SyncReport:
    """Bring the store up to date with the local records that wait for it (`every`: all of
    them; `skip`: a run whose own writer sends it). StoreUnreachable stops it (the rest
    waits for the next command); a refusal is reported and the run's marker dropped:
    sending it again would be refused again."""
    from ditsops.core.record import list_runs

    directory = directory or paths.runs_dir()
    report = SyncReport()
    names = [p.stem for p in list_runs(directory)] if every else pending_runs(directory, where(session.dsn))
    for run_id in names:
        if run_id == skip:
            continue
        path = directory / f"{run_id}.jsonl"
        if not path.is_file():
            unmark(run_id, directory)
            continue
        try:
            sent = sync_record(session, path)
        except StoreRefused as refused:
            report.problems.append(f"run {run_id}: {refused.message}")
            unmark(run_id, directory)
            continue
        except OSError as error:
            report.problems.append(f"run {run_id}: cannot read its record ({error.strerror})")
            continue
        if sent:
            report.runs, report.events = report.runs + 1, report.events + sent
        if not writer_alive(path):  # a live run's own writer sends the rest and drops the marker
            unmark(run_id, directory)
    return report
