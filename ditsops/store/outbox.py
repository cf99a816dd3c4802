"""The outbox: which local records the store may lack lines of.

The local record is the outbox itself; a run that the store may not have whole has a
marker file named after it in `<runs>/.store-pending/`, made before its first line and
removed once the store holds the run to its end. The marker names the store the run was
recorded for (user@host:port/database, no password), so that a run recorded with one
profile's store never lands in another's. Light on purpose: every command
looks here when it is done, and without markers that is one directory listing.
"""

from __future__ import annotations

import os
from pathlib import Path

from ditsops.base import paths

PENDING = ".store-pending"
MAX_STORE_NAME = 512  # a marker holds where its store is: user@host:port/database


def pending_dir(directory: Path | None = None) -> Path:
    return (directory or paths.runs_dir()) / PENDING


def mark_pending(run_id: str, store: str, directory: Path | None = None) -> None:
    """Mark the run as waiting for `store` (where the store is, never its password): a run
    goes to the store configured when it ran, not to whichever the next command uses."""
    folder = pending_dir(directory)
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / run_id, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, store.encode("utf-8")[:MAX_STORE_NAME])
    finally:
        os.close(fd)


def unmark(run_id: str, directory: Path | None = None) -> None:
    (pending_dir(directory) / run_id).unlink(missing_ok=True)


def pending_runs(directory: Path | None = None, store: str | None = None) -> list[str]:
    """Run ids the store may lack lines of, oldest marker first (`store`: only those marked
    for it); cheap when there are none."""
    try:
        entries = list(os.scandir(pending_dir(directory)))
    except OSError:
        return []
    marks = [e for e in entries if e.is_file(follow_symlinks=False) and not e.name.startswith(".")]
    if store is not None:
        marks = [e for e in marks if _marked_for(e.path) == store.encode("utf-8")[:MAX_STORE_NAME]]
    return [e.name for e in sorted(marks, key=lambda e: (e.stat(follow_symlinks=False).st_mtime_ns, e.name))]


def _marked_for(path: str) -> bytes:
    try:
        with open(path, "rb") as marker:
            return marker.read(MAX_STORE_NAME + 1)
    except OSError:
        return b""
