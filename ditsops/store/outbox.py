"""The outbox: which local records the store may lack lines of.

The local record is the outbox itself; a run that the store may not have whole has an
empty marker file named after it in `<runs>/.store-pending/`, made before its first line
and removed once the store holds the run to its end. Light on purpose: every command
looks here when it is done, and without markers that is one directory listing.
"""

from __future__ import annotations

import os
from pathlib import Path

from ditsops.core import paths

PENDING = ".store-pending"


def pending_dir(directory: Path | None = None) -> Path:
    return (directory or paths.runs_dir()) / PENDING


def mark_pending(run_id: str, directory: Path | None = None) -> None:
    folder = pending_dir(directory)
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / run_id).touch(mode=0o600)


def unmark(run_id: str, directory: Path | None = None) -> None:
    (pending_dir(directory) / run_id).unlink(missing_ok=True)


def pending_runs(directory: Path | None = None) -> list[str]:
    """Run ids the store may lack lines of, oldest marker first; cheap when there are none."""
    try:
        entries = list(os.scandir(pending_dir(directory)))
    except OSError:
        return []
    marks = [e for e in entries if e.is_file(follow_symlinks=False) and not e.name.startswith(".")]
    return [e.name for e in sorted(marks, key=lambda e: (e.stat(follow_symlinks=False).st_mtime_ns, e.name))]
