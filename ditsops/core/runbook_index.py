"""The runbook index: what `runbook list` shows of each runbook, cached between calls.

Parsing and checking every runbook (YAML, every step kind, every template) costs more than
the rest of `ditsops runbook list` together, and the files rarely change between two calls.
The index keeps, per file, a short summary (or the file's problems) under
$XDG_CACHE_HOME/ditsops/runbook-index.json, keyed by the file's path and what `stat` says
of it (size, modification and change time, inode): a file that is edited, replaced,
chmod-ed or re-linked is parsed again, the others are not. The index also names the
ditsops that wrote it (version and the modification times of its runbook-reading code), so
a newer or edited loader never trusts an older one's verdicts.

The cache is only ever a shortcut: one that cannot be read, does not parse, has the wrong
shape or cannot be written is ignored (and rebuilt), never an error. It is written whole
to a temporary file and renamed over the old one, so a reader never sees half of it and
two ditsops writing at once leave one complete index.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ditsops import __version__
from ditsops.base import paths
from ditsops.core.safefile import replace_quietly

FORMAT = 1
INDEX_FILE = "runbook-index.json"
_CORE = Path(__file__).resolve().parent
_SQL = _CORE.parent / "sql"
# The shipped dashboards: in the package when installed, beside it in a checkout (as
# core/dashboards.py finds them; not imported here, to keep `runbook list` fast).
_DASHBOARDS = next((d for d in (_CORE.parent / "dashboards", _CORE.parent.parent / "dashboards") if d.is_dir()), _SQL)


@dataclass(frozen=True)
class RunbookSummary:
    """What a listing shows of a valid runbook; `steps` holds the step ids (len() is the count)."""

    name: str
    title: str
    alert: str | None
    severity: str | None
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Indexed:
    """One runbook file in the index: its summary, or the problems that make it invalid."""

    summary: RunbookSummary | None
    problems: tuple[str, ...] = ()


FileKey = tuple[int, ...]


def index_file() -> Path:
    return paths.cache_dir() / INDEX_FILE


def file_key(path: Path) -> FileKey | None:
    """What says the file is unchanged: size, mtime, ctime and inode of the file and of the
    name (a symlink re-pointed elsewhere changes the name's); None when it cannot be stat-ed."""
    try:
        target, name = os.stat(path), os.lstat(path)
    except OSError:
        return None
    return (target.st_size, target.st_mtime_ns, target.st_ctime_ns, target.st_ino, name.st_ino, name.st_mtime_ns)


def code_stamp() -> str:
    """The ditsops that judged the files: its version, and when what the loader checks a
    runbook against last changed — its code (core/, core/steps/), the named SQL diagnostics
    (sql/) and the shipped dashboards a `panel:` step names — so that an edited checkout
    re-judges them."""
    newest = 0
    for directory, suffix in ((_CORE, ".py"), (_CORE / "steps", ".py"), (_SQL, ".sql"), (_DASHBOARDS, ".json")):
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.endswith(suffix):
                        newest = max(newest, entry.stat().st_mtime_ns)
        except OSError:
            pass
    return f"{__version__}:{newest}"


def summarize(path: Path) -> Indexed:
    """Parse one runbook file (the slow path) into what the index keeps."""
    from ditsops.base.errors import RunbookError
    from ditsops.core.loader import load_runbook

    try:
        book = load_runbook(path)
    except RunbookError as error:
        return Indexed(None, tuple(error.problems))
    return Indexed(RunbookSummary(book.name, book.title, book.alert, book.severity, tuple(s.id for s in book.steps)))


def lookup(files: list[Path]) -> dict[Path, Indexed]:
    """Each file's summary or problems: from the index where its key still matches, parsed
    otherwise; the index is rewritten when anything was parsed or dropped."""
    stamp = code_stamp()
    cached = _read(index_file(), stamp)
    found: dict[Path, Indexed] = {}
    fresh: dict[str, tuple[FileKey, Indexed]] = {}
    changed = False
    for path in files:
        key = file_key(path)
        hit = cached.get(str(path))
        if key is not None and hit is not None and hit[0] == key:
            indexed = hit[1]
        else:
            indexed, changed = summarize(path), True
            if key is not None and key != file_key(path):
                key = None  # edited while being read: do not pin this reading to either version
        found[path] = indexed
        if key is not None:
            fresh[str(path)] = (key, indexed)
    if changed or set(cached) != set(fresh):
        _write(index_file(), stamp, fresh)
    return found


def _read(where: Path, stamp: str) -> dict[str, tuple[FileKey, Indexed]]:
    """The index's entries, or none at all when it is missing, unreadable, of another
    ditsops or in any way not what this module writes (a corrupt cache is ignored)."""
    try:
        with open(where, "rb") as handle:
            document = json.load(handle)
        if document.get("format") != FORMAT or document.get("code") != stamp:
            return {}
        return {str(path): _entry(path, raw) for path, raw in document["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return {}


def _entry(path: str, raw: object) -> tuple[FileKey, Indexed]:
    if not isinstance(raw, dict):
        raise TypeError("entry")
    key, summary, problems = raw["key"], raw["summary"], raw["problems"]
    if not isinstance(key, list) or not all(type(part) is int for part in key):
        raise TypeError("key")
    if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        raise TypeError("problems")
    if summary is None:
        if not problems:
            raise ValueError("neither a summary nor problems")
        return tuple(key), Indexed(None, tuple(problems))
    if not isinstance(summary, dict):
        raise TypeError("summary")
    name, title, alert, severity, steps = (summary[k] for k in ("name", "title", "alert", "severity", "steps"))
    if not isinstance(name, str) or not isinstance(title, str) or not isinstance(steps, list):
        raise TypeError("summary")
    if name != Path(path).stem:  # the loader holds a runbook to its file's name; so does the index
        raise ValueError("a summary under another file's name")
    if not all(isinstance(s, str) for s in steps):
        raise TypeError("steps")
    if (alert is not None and not isinstance(alert, str)) or (severity is not None and not isinstance(severity, str)):
        raise TypeError("alert or severity")
    return tuple(key), Indexed(RunbookSummary(name, title, alert, severity, tuple(steps)))


def _write(where: Path, stamp: str, entries: dict[str, tuple[FileKey, Indexed]]) -> None:
    """Replace the index in one rename; a cache that cannot be written is simply not kept."""
    files = {
        path: {
            "key": list(key),
            "summary": None
            if indexed.summary is None
            else {
                "name": indexed.summary.name,
                "title": indexed.summary.title,
                "alert": indexed.summary.alert,
                "severity": indexed.summary.severity,
                "steps": list(indexed.summary.steps),
            },
            "problems": list(indexed.problems),
        }
        for path, (key, indexed) in entries.items()
    }
    document = json.dumps({"format": FORMAT, "code": stamp, "files": files}, separators=(",", ":"))
    try:
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return
    replace_quietly(where, document, prefix=".runbook-index-")
