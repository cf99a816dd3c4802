"""The recorded runs at a glance: who ran which runbook where, when, and how it ended.

Read from the first and the last lines of each run record (core/record.py); the hash chain
is not checked here (`runbook verify` does that), so a long history lists quickly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ditsops.core.record import list_runs
from ditsops.core.safefile import FileProblem, read_ends

NO_END = "no end recorded (still running, or killed)"
ENDS = 1 << 20  # bytes read from each end of a record: its run-start and run-end lines are there


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    path: Path
    started: datetime | None  # the run-start line's time (UTC)
    user: str  # user@host, as the record has it
    runbook: str
    profile: str
    dry_run: bool
    exit_code: int | None  # None: the record has no run-end line
    verdict: str  # the run-end line's reason: "resolved: …", "not resolved: …", …

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "path": str(self.path),
            "started": self.started.isoformat() if self.started else None,
            "user": self.user,
            "runbook": self.runbook,
            "profile": self.profile,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
        }


def run_summaries(directory: Path | None = None) -> list[RunSummary]:
    """Every recorded run, the newest last (by start time)."""
    summaries = [summarize(path) for path in list_runs(directory)]
    return sorted(summaries, key=lambda s: (s.started is None, s.started or datetime.min, s.run_id))


def summarize(path: Path) -> RunSummary:
    """One run from its record; a record without a readable start or end says so instead of failing."""
    start: dict[str, Any] = {}
    end: dict[str, Any] = {}
    try:  # the first and last MiB only, of a regular file: a 1 GB record or a FIFO lists at once
        head, tail = read_ends(path, limit=ENDS)
    except FileProblem:
        head, tail = b"", b""
    for line in head.splitlines():  # the first line is run-start; a record from an interrupted write may begin cut
        entry = _entry(line)
        if entry.get("event") == "run-start":
            start = entry
            break
    for line in reversed(tail.splitlines()):  # a cut last line is skipped: it is not JSON
        entry = _entry(line)
        if entry.get("event") == "run-end":
            end = entry
            break
    target = start.get("target")
    options = start.get("options")
    exit_code = end.get("exit_code")
    return RunSummary(
        run_id=path.stem,
        path=path,
        started=_time(start.get("ts")),
        user=str(start.get("by") or "?"),
        runbook=str(start.get("runbook") or "?"),
        profile=str(target.get("profile") or "?") if isinstance(target, dict) else "?",
        dry_run=bool(options.get("dry_run")) if isinstance(options, dict) else False,
        exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        verdict=str(end.get("reason") or "") if end else NO_END,
    )


def _entry(line: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # a record cut short, or forged
        return {}
    return entry if isinstance(entry, dict) else {}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # records write UTC; a bare one is too
