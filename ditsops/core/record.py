"""The run record: one JSON line per event, written as it happens, secrets scrubbed.

Records are evidence. Each line carries `prev`, the SHA-256 of the previous line's exact
bytes (the first line: of a genesis string naming the run), so a line changed, inserted,
removed or reordered afterwards breaks the chain and `runbook verify` names where. Each
record file is created exclusively (mode 0600, in a 0700 directory) and written append-only,
one `write()` per line. A crash or Ctrl-C still leaves everything up to that moment on
disk; a line cut by a kill mid-write is recognised as such, and `runbook report` turns the
rest into a Markdown timeline for the postmortem.

While its run lives, the record is held with a lock (recordfile.py) so that a record
without `run-end` can be told apart: still being written, or cut short. Each line, once on
disk, goes to the record's listeners: that is how the shared store (ditsops/store/) hears
a run without core knowing of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets as random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ditsops.base import paths
from ditsops.base.errors import DitsopsError, UsageError
from ditsops.base.secrets import redact_text
from ditsops.core.identity import set_identity as set_identity  # re-exported: callers import who() from here
from ditsops.core.identity import who as who
from ditsops.core.recordfile import SignalsHeld, append, hold_writer_lock, private_directory, writer_alive

GENESIS = "ditsops run record v1 "  # + run id: the first line's `prev` is the hash of this
SUFFIX_BYTES = 4  # 8 hex characters of randomness after the second and the runbook name
_CREATE_ATTEMPTS = 64
_CREATE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


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


def line_hash(line: bytes) -> str:
    """The `prev` the line after this one carries: SHA-256 (hex) of the line's bytes, without its newline."""
    return hashlib.sha256(line).hexdigest()


def genesis_hash(run_id: str) -> str:
    """The `prev` of a record's first line: ties the chain to its run, so lines cannot move between records."""
    return line_hash((GENESIS + run_id).encode("utf-8"))


def _safe_name(runbook: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", runbook).strip("-")
    return name or "run"


@dataclass(frozen=True)
class Line:
    """One line as written, for the record's listeners (the shared store): its number in
    the record (1-based), exact text (without the newline), parsed fields and chain hashes."""

    run_id: str
    seq: int
    text: str
    entry: dict[str, Any]
    prev: str
    hash: str


# A listener hears each line after it is on disk; it must return at once (queue the line)
# and never fail the run: the local record is the outbox, whatever a listener does.
Listener = Callable[[Line], None]


@dataclass
class RunRecord:
    path: Path
    secrets: frozenset[str]
    run_id: str
    _prev: str | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)
    _seq: int | None = field(default=None, repr=False, compare=False)  # lines written so far
    _writer_fd: int | None = field(default=None, repr=False, compare=False)  # see recordfile.hold_writer_lock

    @classmethod
    def create(cls, runbook: str, secrets: frozenset[str], directory: Path | None = None) -> RunRecord:
        """A new, empty record file that no other run can have: created exclusively, mode 0600."""
        directory = directory or paths.runs_dir()
        private_directory(directory)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = _safe_name(runbook)
        for _ in range(_CREATE_ATTEMPTS):
            run_id = f"{stamp}-{name}-{random.token_hex(SUFFIX_BYTES)}"
            path = directory / f"{run_id}.jsonl"
            try:
                fd = os.open(path, _CREATE_FLAGS, 0o600)
            except FileExistsError:
                continue  # another run took this id in the same second: draw another suffix
            try:
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
            except BaseException:
                os.close(fd)
                raise
            record = cls(path, secrets, run_id, genesis_hash(run_id), _seq=0)
            if hold_writer_lock(fd):
                record._writer_fd = fd
            else:
                os.close(fd)
            return record
        raise DitsopsError(
            f"could not create a run record in {directory}: {_CREATE_ATTEMPTS} ids taken",
            hint="look for a process creating files there",
        )

    def write(self, event: str, **fields: Any) -> None:
        """Append one line: its fields scrubbed of secrets, chained to the line before it."""
        entry = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
        entry.update(_plain(fields, self.secrets))
        with self._lock, SignalsHeld():
            if self._prev is None or self._seq is None:
                self._prev, self._seq = _chain_head(self.path, self.run_id)
            prev = self._prev
            if prev == genesis_hash(self.run_id):
                entry["run"] = self.run_id  # the first line names its run (a renamed copy still verifies)
            entry["prev"] = prev
            line = json.dumps(entry, ensure_ascii=False).encode("utf-8")
            append(self.path, line + b"\n")
            self._prev, self._seq = line_hash(line), self._seq + 1
            heard = Line(self.run_id, self._seq, line.decode("utf-8"), entry, prev, self._prev)
            for listener in list(self.listeners):  # in line order: under the lock
                try:
                    listener(heard)
                except Exception:  # noqa: BLE001, S112 - a listener never fails the run; the file has the line
                    continue
            if event == "run-end":
                self.close()

    @property
    def head(self) -> str | None:
        """SHA-256 of the last line written: the anchor printed for the ticket."""
        return self._prev if self._seq else None

    def close(self) -> None:
        """Release the writer's lock: from here on, a record without `run-end` is cut short."""
        fd, self._writer_fd = self._writer_fd, None
        if fd is not None:
            os.close(fd)


def _chain_head(path: Path, run_id: str) -> tuple[str, int]:
    """The `prev` for the next line of an existing record (a RunRecord built by hand on a
    file), and how many lines it has."""
    data = path.read_bytes() if path.exists() else b""
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.splitlines()
    return (line_hash(lines[-1]) if lines else genesis_hash(run_id)), len(lines)


def list_runs(directory: Path | None = None) -> list[Path]:
    directory = directory or paths.runs_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jsonl"), key=lambda p: (_mtime(p), p.name))


def _mtime(path: Path) -> int:
    try:
        return path.lstat().st_mtime_ns  # a dangling symlink named *.jsonl is listed, not fatal
    except OSError:
        return 0


def find_run(run: str | None, directory: Path | None = None) -> Path:
    """The last run, or the one named by id, id prefix or path."""
    if run and Path(run).is_file():
        return Path(run)
    directory = directory or paths.runs_dir()
    if run and "/" not in run and (directory / f"{run}.jsonl").is_file():
        return directory / f"{run}.jsonl"  # a whole id: no listing of every record
    if run is not None:  # a prefix: the names suffice, no record is stat-ed or opened
        try:
            names = [n[:-6] for n in os.listdir(directory) if n.endswith(".jsonl") and n.startswith(run)]
        except OSError:
            names = []
        matches = [directory / f"{name}.jsonl" for name in names if (directory / f"{name}.jsonl").is_file()]
        if len(matches) == 1:
            return matches[0]
    runs = list_runs(directory) if run is None or not matches else matches
    if not runs:
        raise UsageError("no runs recorded yet", hint="ditsops runbook NAME")
    if run is None:
        return runs[-1]
    matches = [p for p in runs if p.stem == run or p.stem.startswith(run)]
    if len(matches) != 1:
        what = "matches no run" if not matches else f"matches {len(matches)} runs"
        raise UsageError(f"{run!r} {what}", hint="ditsops runbook runs")
    return matches[0]


Integrity = Literal["intact", "broken", "cut", "unchained", "empty"]


@dataclass(frozen=True)
class Check:
    """What the hash chain says about a record.

    status: intact (every line follows the one before it), broken (the first line that does
    not: `problem`, `line`), cut (intact up to a last line cut by a kill: `cut_line`),
    unchained (written by a ditsops before the chain), empty (not one line).
    """

    status: Integrity
    lines: int  # complete lines
    problem: str | None = None
    line: int | None = None  # the first bad line, when broken
    cut_line: int | None = None  # the cut last line, also when an earlier line is bad
    head: str | None = None  # SHA-256 of the last complete line: note it elsewhere to pin the record's end
    ended: bool = False  # the last complete line is the run's `run-end`
    running: bool = False  # no `run-end` yet, and a live ditsops still holds the record as its writer

    @property
    def cut_short(self) -> bool:
        """Lines but no `run-end`, and no writer alive: killed, or its last lines removed."""
        return self.lines > 0 and not self.ended and not self.running

    def end_summary(self) -> str | None:
        """What `runbook verify` adds about the record's end, when it is not a `run-end`."""
        if self.running:
            lines = "1 line" if self.lines == 1 else f"{self.lines} lines"
            return f"run still in progress: {lines} so far, no run-end yet (its writer is alive)"
        if self.cut_short:
            return f"record cut short: no run-end after line {self.lines} (the run was killed, or lines were removed)"
        return None

    @property
    def ok(self) -> bool:
        return self.status == "intact"

    def summary(self) -> str:
        """One line, for `runbook verify`."""
        if self.status == "intact":
            return f"record intact: {self.lines} lines, chain verified"
        if self.status == "cut":
            return f"ends in a cut line at line {self.cut_line} (the run was killed while writing)"
        if self.status == "unchained":
            return f"record written without a hash chain (older ditsops): {self.lines} lines, nothing to verify"
        if self.status == "empty":
            return "record is empty: the run was killed before it wrote a line"
        return f"record NOT intact: {self.problem}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "intact": self.ok,
            "lines": self.lines,
            "problem": self.problem,
            "line": self.line,
            "cut_line": self.cut_line,
            "head": self.head,
            "ended": self.ended,
            "running": self.running,
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class Record:
    """A record as read back: the events of every readable line, and what the chain says."""

    path: Path
    events: list[dict[str, Any]]
    check: Check

    @property
    def run_id(self) -> str:
        return self.path.stem


MAX_RECORD_PARSE = 256 << 20  # bytes its parsed lines may take (see clients/bounded.py parse_cost)
MAX_RECORD_BYTES = 64 << 20  # a long incident's record is a few MB; past this it is not one ditsops wrote


def read_record(path: Path) -> Record:
    """Read and verify a record. Never fails on its content: a cut last line, a line that is
    not JSON, a broken chain are all reported in `check`, and every readable line is kept."""
    from ditsops.clients.bounded import parse_cost
    from ditsops.core.safefile import FileProblem, read_bytes

    try:  # only a regular file, bounded: a FIFO or /dev/zero named *.jsonl must not hang or fill memory
        data = read_bytes(path, limit=MAX_RECORD_BYTES)
    except FileProblem as error:
        raise UsageError(f"{path}: cannot read the run record: {error}") from None
    if parse_cost(data, lines=True) > MAX_RECORD_PARSE:  # 60 MB of `{}` lines would be a billion bytes of dicts
        raise UsageError(f"{path}: cannot read the run record: it would take more than 256 MB to read")
    chunks = data.split(b"\n")
    tail = chunks.pop()  # after the last newline: b"" when the record ends cleanly
    parsed: list[Any] = []
    for chunk in chunks:
        try:
            parsed.append(json.loads(chunk))
        except (UnicodeDecodeError, json.JSONDecodeError):
            parsed.append(None)
    cut_line = None
    if tail:
        cut_line = len(chunks) + 1  # killed mid-write: no newline at the end
    elif parsed and parsed[-1] is None:
        cut_line = len(chunks)  # not JSON at the very end: a cut line, or a crash's zeroes
        chunks, parsed = chunks[:-1], parsed[:-1]
    events = [entry for entry in parsed if isinstance(entry, dict)]
    check = _verify(chunks, parsed, path.stem, cut_line)
    ended = bool(parsed) and isinstance(parsed[-1], dict) and parsed[-1].get("event") == "run-end"
    running = not ended and writer_alive(path)
    return Record(path, events, replace(check, ended=ended, running=running))


def _verify(chunks: list[bytes], parsed: list[Any], run_id: str, cut_line: int | None) -> Check:
    count = len(chunks)
    head = line_hash(chunks[-1]) if chunks else None

    def broken(number: int, problem: str) -> Check:
        return Check("broken", count, f"line {number}: {problem}", number, cut_line, head)

    if not chunks:
        return Check("cut", 0, cut_line=cut_line) if cut_line else Check("empty", 0)
    if not any(isinstance(e, dict) and "prev" in e for e in parsed):
        garbled = next((n for n, e in enumerate(parsed, 1) if not isinstance(e, dict)), None)
        if garbled:
            return broken(garbled, "not a JSON record line")
        return Check("unchained", count, cut_line=cut_line, head=head)
    first = parsed[0]
    if isinstance(first, dict) and isinstance(first.get("run"), str):
        run_id = first["run"]  # the record names its run: a renamed copy still verifies
    expected = genesis_hash(run_id)
    for number, (chunk, entry) in enumerate(zip(chunks, parsed, strict=True), 1):
        if not isinstance(entry, dict):
            return broken(number, "not a JSON record line")
        prev = entry.get("prev")
        if not isinstance(prev, str):
            return broken(number, "has no `prev` (changed, or inserted by hand)")
        if prev != expected:
            if number == 1:
                return broken(1, "does not start this record (changed, inserted, removed, or from another run)")
            return broken(number, f"does not follow line {number - 1} (changed, inserted or removed)")
        expected = line_hash(chunk)
    if cut_line:
        return Check("cut", count, cut_line=cut_line, head=head)
    return Check("intact", count, head=head)


def verify_run(path: Path) -> Check:
    return read_record(path).check


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of every readable line (a cut last line left out); see read_record for the chain."""
    return read_record(path).events
