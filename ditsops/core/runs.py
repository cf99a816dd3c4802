"""The recorded runs at a glance: who ran which runbook where, when, and how it ended.

Read from the first and the last lines of each run record (core/record.py): the latest
by run id without a filter, through the index kept beside the records (core/runindex.py)
with one, so a year of records lists as fast as a day's. The hash chain is not checked
here (`runbook verify` does that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ditsops.base import paths
from ditsops.core import runindex
from ditsops.core.safefile import FileProblem, read_ends

NO_END = "no end recorded (still running, or killed)"
MAX_FIELD = 200  # what a summary keeps of a record's texts (bounded: records can be forged)
EDGE_BYTES = 64 * 1024  # how much of each end of a record is read for its first and last lines

# exit code -> the verdict word `runbook runs` shows (the record's reason says more)
WORDS = {0: "resolved", 1: "failed", 2: "usage", 3: "not resolved", 4: "unreachable", 5: "refused", 130: "interrupted"}


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    path: Path | None  # None: a run listed from the store
    started: datetime | None  # the run-start line's time (UTC)
    user: str  # the engineer, as the record has it
    runbook: str
    profile: str
    dry_run: bool
    exit_code: int | None  # None: the record has no run-end line
    verdict: str  # the run-end line's reason: "resolved: …", "not resolved: …", …
    incident: str | None = None  # the incident the run joined (its first line says)
    direct: bool = False  # a direct command (k8s undo, db terminate, …), not a runbook walk

    @property
    def word(self) -> str:
        """The verdict in a word or two."""
        if self.exit_code is None:
            return "no end"
        return "dry run" if self.dry_run else WORDS.get(self.exit_code, f"exit {self.exit_code}")

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "path": str(self.path) if self.path else None,
            "started": self.started.isoformat() if self.started else None,
            "user": self.user,
            "runbook": self.runbook,
            "kind": "command" if self.direct else "walk",
            "profile": self.profile,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "incident": self.incident,
        }


@dataclass(frozen=True)
class RunFilter:
    """What `runbook runs` narrows to; limit None: all."""

    incident: str | None = None
    runbook: str | None = None
    since: datetime | None = None
    user: str | None = None  # --mine: this engineer's identity
    limit: int | None = 20

    def keeps(self, run: RunSummary) -> bool:
        if self.incident is not None and run.incident != self.incident:
            return False
        if self.runbook is not None and run.runbook != self.runbook:
            return False
        if self.user is not None and run.user != self.user:
            return False
        return self.since is None or (run.started is not None and run.started >= self.since)


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]  # the latest the filter keeps, newest last
    total: int  # how many the filter keeps, before the limit
    ids: list[str]  # the ids a shown one's prefix must not be shared with (render/runs.py short_ids)


def _utc(moment: datetime | None) -> str | None:
    """A start time as the index keeps it: UTC ISO 8601, so that text order is time order."""
    return moment.astimezone(UTC).isoformat() if moment else None


def _keeps(where: RunFilter, entry: list[Any], since: str | None) -> bool:
    """RunFilter.keeps on an index entry, without opening the record."""
    if where.incident is not None and entry[7] != where.incident:
        return False
    if where.runbook is not None and entry[6] != where.runbook:
        return False
    if where.user is not None and entry[5] != where.user:
        return False
    return since is None or (entry[4] is not None and entry[4] >= since)


SECOND = 16  # a run id begins with its start, to the second: 20261207T210301Z
MAX_TIES = 200  # runs read beyond the limit to order those sharing the oldest shown second


def _order(item: tuple[str, list[Any]]) -> tuple[str, bool, str, str]:
    """Newest last: by the second the run id starts with (when the run started), then by
    the start time its record has, then by id."""
    return (item[0][:SECOND], item[1][4] is not None, item[1][4] or "", item[0])


def _indexed(key: runindex.Key, summary: RunSummary) -> list[Any]:
    return [*key, _utc(summary.started), summary.user, summary.runbook, summary.incident]


def run_summaries(directory: Path | None = None, where: RunFilter | None = None) -> list[RunSummary]:
    """The recorded runs the filter keeps (every one without a filter), the newest last
    (by start time), the latest `limit` of them."""
    return run_page(directory, where).runs


def run_page(directory: Path | None = None, where: RunFilter | None = None) -> RunPage:
    """run_summaries, with how many there were before the limit. Without a filter: the
    latest by run id (core/record.py starts each with its start time), read from the
    records themselves; with one: through the index (_filtered)."""
    directory = directory or paths.runs_dir()
    if where is None or (where.incident, where.runbook, where.user, where.since) == (None, None, None, None):
        return _latest(directory, where.limit if where is not None else None)
    return _filtered(directory, where)


def _latest(directory: Path, limit: int | None) -> RunPage:
    """The latest `limit` runs: one directory listing (names only, no stat), then the
    newest names one by one (an lstat and the record's two ends each) until `limit` are
    read, and the runs started in the same second as the oldest of them, to order them.
    Nothing is taken from the index, so a record added, removed, edited or replaced is
    seen at once: what is chosen depends on names only, and what is shown is read now."""
    names, count = runindex.record_names(directory)
    picked: list[tuple[str, list[Any]]] = []
    read: dict[str, RunSummary] = {}
    at: dict[str, int] = {}  # run id -> its name's place in `names`
    skipped = 0
    for place in range(len(names) - 1, -1, -1):
        name = names[place]
        if not runindex.is_record_name(name):
            continue
        run_id = name[:-6]
        if limit is not None and len(picked) >= limit:
            if run_id[:SECOND] != picked[-1][0][:SECOND] or len(picked) >= limit + MAX_TIES:
                break
        path = directory / name
        key = runindex.key_of(path)
        if key is None:  # gone, or not a regular file (a FIFO, a link): nobody's record
            skipped += 1
            continue
        read[run_id] = summary = summarize(path)
        picked.append((run_id, _indexed(key, summary)))
        at[run_id] = place
    picked.sort(key=_order)
    shown = picked[-limit:] if limit is not None else picked
    # a shown id's prefix must differ from the ids beside it (those share the most with it)
    near = {other for run_id, _ in shown for step in (-1, 1) if (other := _beside(names, at[run_id], step))}
    return RunPage([read[run_id] for run_id, _ in shown], count - skipped, sorted(near))


def _beside(names: list[str], place: int, step: int) -> str | None:
    """The run id of the next record name from `place` in the direction of `step`."""
    place += step
    while 0 <= place < len(names):
        if runindex.is_record_name(names[place]):
            return names[place][:-6]
        place += step
    return None


def _filtered(directory: Path, where: RunFilter) -> RunPage:
    """The runs a filter keeps, through the index: a directory listing, an lstat per
    record, a read of the index and `limit` records read (their two ends): the index only
    selects and orders; what is shown is read from the records themselves."""
    files = runindex.record_files(directory)
    cached = runindex.load(directory)
    usable = runindex.usable
    fresh: dict[str, list[Any]] = {}
    read: dict[str, RunSummary] = {}
    for run_id, key in files.items():
        entry = cached.get(run_id)
        if usable(entry, key):
            fresh[run_id] = entry
            continue
        path = directory / f"{run_id}.jsonl"
        read[run_id] = summary = summarize(path)
        if runindex.key_of(path) == key:  # changed while read: not pinned to either version
            fresh[run_id] = _indexed(key, summary)
    if files and (read or len(fresh) != len(cached)):
        runindex.save(directory, fresh)
    entries = list(fresh.items())
    entries += [(run_id, _indexed(files[run_id], s)) for run_id, s in read.items() if run_id not in fresh]
    since = _utc(where.since)
    entries = [item for item in entries if _keeps(where, item[1], since)]
    entries.sort(key=_order)
    limit = where.limit
    shown = entries[-limit:] if limit else entries
    runs = [read.get(run_id) or summarize(directory / f"{run_id}.jsonl") for run_id, _ in shown]
    return RunPage(runs, len(entries), list(files))


def _edges(path: Path) -> tuple[list[bytes], list[bytes]]:
    """The record's first lines and its last lines: its two ends, never the whole file, and
    only of a regular file (a FIFO or a link to /dev/zero named *.jsonl lists at once)."""
    try:
        head, tail = read_ends(path, limit=EDGE_BYTES)
    except FileProblem:
        return [], []
    return head.split(b"\n"), tail.split(b"\n")


def summarize(path: Path) -> RunSummary:
    """One run from its record; a record without a readable start or end says so instead of failing."""
    start: dict[str, Any] = {}
    end: dict[str, Any] = {}
    head, tail = _edges(path)
    for line in head:  # the first line is run-start; a record from an interrupted write may begin cut
        entry = _entry(line)
        if entry.get("event") == "run-start":
            start = entry
            break
    for line in reversed(tail):  # a cut last line is skipped: it is not JSON
        entry = _entry(line)
        if entry.get("event") == "run-end":
            end = entry
            break
    target = start.get("target")
    options = start.get("options")
    exit_code = end.get("exit_code")
    incident = start.get("incident")
    return RunSummary(
        run_id=path.stem,
        path=path,
        started=_time(start.get("ts")),
        user=_text(start.get("by")),
        runbook=_text(start.get("runbook")),
        profile=_text(target.get("profile")) if isinstance(target, dict) else "?",
        dry_run=bool(options.get("dry_run")) if isinstance(options, dict) else False,
        exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        verdict=_text(end.get("reason"), "") if end else NO_END,
        incident=str(incident)[:MAX_FIELD] if isinstance(incident, str) and incident else None,
        direct=is_direct(start),
    )


def is_direct(start: dict[str, Any]) -> bool:
    """A direct command runs a one-step runbook built in code: it has no source file."""
    # null since the engine stopped writing str(None); "None" in records written before.
    # A run-start without the key at all (cut, hand-edited) is not taken for one.
    return "source" in start and start["source"] in (None, "None")


def _text(value: object, default: str = "?") -> str:
    return str(value)[:MAX_FIELD] if value not in (None, "") else default


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
