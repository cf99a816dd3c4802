"""The index of local run records: what a filtered `runbook runs` selects by (--incident,
--runbook, --since, --mine), kept beside them. Without a filter no index is needed:
core/runs.py `_latest` reads only the records of the newest names.

Summarizing a record reads its first and last lines; with a year of records that is
thousands of files opened on every filtered listing. The index keeps each record's summary in
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
import stat
from bisect import bisect_left
from itertools import repeat
from pathlib import Path
from typing import Any, TypeGuard

from ditsops import __version__
from ditsops.core.safefile import replace_quietly

FORMAT = 1
INDEX_FILE = ".index.json"
MAX_INDEX_BYTES = 256 * 1024 * 1024  # a bigger index is not ours: rebuilt

Key = list[int]  # size, mtime, ctime, inode: a list, compared as is with the index's JSON


def record_names(directory: Path) -> tuple[list[str], int]:
    """The directory's names, sorted, and how many name records (`*.jsonl`, not hidden):
    one directory listing, no stat (what they are is checked for the few that are read).
    The names are left whole and counted in C (sort, map): with ten thousand records a
    Python step per name is a good part of a listing's cost."""
    try:
        names = os.listdir(directory)
    except OSError:
        return [], 0
    names.sort()
    hidden = names[bisect_left(names, ".") : bisect_left(names, "/")]  # "." sorts just before "/"
    count = sum(map(str.endswith, names, repeat(".jsonl"))) - sum(map(str.endswith, hidden, repeat(".jsonl")))
    return names, count


def is_record_name(name: str) -> bool:
    return name.endswith(".jsonl") and not name.startswith(".")


def record_files(directory: Path) -> dict[str, Key]:
    """Every record (`*.jsonl`, regular files only) with its stat key, by run id: one
    directory listing and one lstat per record, no file opened. (Kept lean on purpose:
    with ten thousand records the loop itself is most of a listing's cost.)"""
    found: dict[str, Key] = {}
    try:
        names = os.listdir(directory)
        folder = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return found
    lstat, regular = os.stat, stat.S_ISREG  # bound once: the loop runs per record
    try:
        for name in names:
            if not name.endswith(".jsonl") or name.startswith("."):
                continue
            try:
                info = lstat(name, dir_fd=folder, follow_symlinks=False)
            except OSError:
                continue
            if regular(info.st_mode):  # records are created O_NOFOLLOW: a link here is nobody's record
                found[name[:-6]] = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
    finally:
        os.close(folder)
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


def load(directory: Path) -> dict[str, Any]:
    """The index's entries as written (run id -> [size, mtime, ctime, inode, started, user,
    runbook, incident]), or none when it is missing, unreadable, foreign or not a mapping.
    Entries are not checked here: `usable` checks each one the listing relies on."""
    try:
        with open(directory / INDEX_FILE, "rb") as handle:
            raw = handle.read(MAX_INDEX_BYTES + 1)
        if len(raw) > MAX_INDEX_BYTES:
            return {}
        document = json.loads(raw)
        entries = document.get("runs") if document.get("stamp") == _stamp(directory) else None
        return entries if isinstance(entries, dict) else {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return {}


def usable(entry: Any, key: Key) -> TypeGuard[list[Any]]:
    """The entry is this file's as it is now, and of the shape this module writes."""
    return (
        type(entry) is list
        and len(entry) == 8
        and entry[:4] == key
        and all(type(part) is int for part in entry[:4])
        and (entry[4] is None or type(entry[4]) is str)
        and type(entry[5]) is str
        and type(entry[6]) is str
        and (entry[7] is None or type(entry[7]) is str)
    )


def save(directory: Path, entries: dict[str, list[Any]]) -> None:
    """Replace the index in one rename; an index that cannot be written is simply not kept."""
    document = json.dumps({"stamp": _stamp(directory), "runs": entries}, separators=(",", ":"), ensure_ascii=False)
    replace_quietly(directory / INDEX_FILE, document, prefix=".index-")


def key_of(path: str | Path) -> Key | None:
    """The key of one record now (to tell a record that changed while it was read); None
    when it is gone or not a regular file."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
