"""The run record: one JSON line per event, written as it happens, secrets scrubbed.

A crash or Ctrl-C still leaves everything up to that moment on disk; `runbook report`
turns a record into a Markdown timeline for the postmortem.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as random
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ditsops.core import paths
from ditsops.core.errors import UsageError
from ditsops.core.secrets import redact_text


def who() -> str:
    """The engineer behind a decision, as user@host."""
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises several kinds when no user is known
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _plain(value: Any, secrets: frozenset[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {str(k): _plain(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v, secrets) for v in value]
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value), secrets)


@dataclass
class RunRecord:
    path: Path
    secrets: frozenset[str]
    run_id: str

    @classmethod
    def create(cls, runbook: str, secrets: frozenset[str], directory: Path | None = None) -> RunRecord:
        directory = directory or paths.runs_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_id = f"{stamp}-{runbook}-{random.token_hex(2)}"
        path = directory / f"{run_id}.jsonl"
        path.touch(mode=0o600)
        return cls(path, secrets, run_id)

    def write(self, event: str, **fields: Any) -> None:
        entry = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
        entry.update(_plain(fields, self.secrets))
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def list_runs(directory: Path | None = None) -> list[Path]:
    directory = directory or paths.runs_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime_ns, p.name))


def find_run(run: str | None, directory: Path | None = None) -> Path:
    """The last run, or the one named by id, id prefix or path."""
    if run and Path(run).is_file():
        return Path(run)
    runs = list_runs(directory)
    if not runs:
        raise UsageError("no runs recorded yet", hint="ditsops runbook NAME")
    if run is None:
        return runs[-1]
    matches = [p for p in runs if p.stem == run or p.stem.startswith(run)]
    if len(matches) != 1:
        what = "matches no run" if not matches else f"matches {len(matches)} runs"
        raise UsageError(f"{run!r} {what}", hint="ditsops runbook runs")
    return matches[0]


def read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise UsageError(f"{path}:{number}: not a run record line") from None
    return events
