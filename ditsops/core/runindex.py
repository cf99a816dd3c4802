"""The index of local run records: what `runbook runs` shows of each, kept beside them.

Summarizing a record reads its first and last lines; with a year of records that is
thousands of files opened on every listing. The index keeps each record's summary in
`<runs>/.index.json`, keyed like the runbook index (core/runbook_index.py) by what `stat`
says of the file (size, modification and change time, inode): a record that grew, was
edited, replaced by another file or removed is summarized again (or dropped) at the next
listing; the others are not opened. A listing then costs one directory scan and one read
of the index, whatever the number of records.

The index is only ever a shortcut, never evidence: one that cannot be read, has the wrong
shape, names another directory or another ditsops is ignored and rebuilt. A record's
integrity is checked where it matters, by `runbook verify` and `runbook report`, which
read the record itself. Written whole to a temporary file and renamed, so a reader never
sees half of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ditsops import __version__

FORMAT = 1
INDEX_FILE = ".index.json"
MAX_INDEX_BYTES = 256 * 1024 * 1024  # a bigger index is not ours: rebuilt

Key = tuple[int, int, int, int]


def record_files(directory: Path) -> dict[str, tuple[str, Key]]:
    """Every record (`*.jsonl`, regular files only) with its path and stat key, by run
    id: one scandir and one stat per entry, no file opened (and no Path made: with ten
    thousand records, that alone would cost more than the rest of the listing)."""
    found: dict[str, tuple[str, Key]] = {}
    try:
        entries = os.scandir(directory)
    except OSError:
        return found
    with entries:
        for entry in entries:
            if not entry.name.endswith(".jsonl") or entry.name.startswith("."):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue  # records are created O_NOFOLLOW: a link here is nobody's record
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            found[entry.name[: -len(".jsonl")]] = (entry.path, key)
    return found


def _stamp(directory: Path) -> str:
    """Whose index this is: this ditsops, this directory (an index copied from another
    home, or left by another version, is foreign)."""
    try:
        info = os.stat(directory)
        where = f"{os.path.realpath(directory)}:{info.st_dev}:{info.st_ino}"
    except OSError:
        where = str(directory)
    return f"{FORMAT}:{__version__}:{where}"


# What the index keeps of a record: only what selects and orders runs. The lines shown are
# summarized from the records themselves (a listing opens `limit` records, never all).
Fields = tuple[str | None, str, str, str | None]  # started (UTC ISO), user, runbook, incident


def load(directory: Path) -> dict[str, tuple[Key, Fields]]:
    """The index's entries, or none when it is missing, unreadable, foreign or malformed
    (one malformed entry and the whole index is rebuilt: it is not ours)."""
    try:
        with open(directory / INDEX_FILE, "rb") as handle:
            raw = handle.read(MAX_INDEX_BYTES + 1)
        if len(raw) > MAX_INDEX_BYTES:
            return {}
        document = json.loads(raw)
        if document.get("stamp") != _stamp(directory):
            return {}
        entries = document["runs"]
        if not isinstance(entries, dict):
            return {}
        return {str(run): _entry(value) for run, value in entries.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return {}


def _entry(value: Any) -> tuple[Key, Fields]:
    if not isinstance(value, list) or len(value) != 8:
        raise TypeError("entry")
    size, mtime, ctime, inode, started, user, runbook, incident = value
    if not (type(size) is int and type(mtime) is int and type(ctime) is int and type(inode) is int):
        raise TypeError("key")
    if not (isinstance(user, str) and isinstance(runbook, str)):
        raise TypeError("summary")
    if not (started is None or isinstance(started, str)) or not (incident is None or isinstance(incident, str)):
        raise TypeError("summary")
    return (size, mtime, ctime, inode), (started, user, runbook, incident)


def save(directory: Path, entries: dict[str, tuple[Key, Fields]]) -> None:
    """Replace the index in one rename; an index that cannot be written is simply not kept."""
    document = json.dumps(
        {"stamp": _stamp(directory), "runs": {run: [*key, *fields] for run, (key, fields) in entries.items()}},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=directory)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(document)
        os.replace(temporary, directory / INDEX_FILE)
        temporary = None
    except OSError:
        pass
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def record_files_key(path: str | Path) -> Key | None:
    """The key of one record now (to tell a record that changed while it was read)."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
