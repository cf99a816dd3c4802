"""The run record's file mechanics: a private directory, append-only writes that Ctrl-C
cannot split, and the writer's lock that tells a run still writing from one cut short.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from ditsops.base.errors import DitsopsError

APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def private_directory(directory: Path) -> None:
    """Create the runs directory (and missing parents) 0700 whatever the umask; tighten it if it exists."""
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(parent, 0o700)  # mkdir's mode is cut by the umask; this is not
    info = os.stat(directory, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        raise DitsopsError(f"run records directory {directory} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise DitsopsError(
            f"run records directory {directory} belongs to another user (uid {info.st_uid})",
            hint="records are evidence: keep them in a directory only you can write",
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(directory, 0o700)


class SignalsHeld:
    """Hold SIGINT/SIGTERM while a line is written and the chain advanced: Ctrl-C lands after, never between."""

    _SIGNALS = {signal.SIGINT, signal.SIGTERM}

    def __enter__(self) -> None:
        self._old = (
            signal.pthread_sigmask(signal.SIG_BLOCK, self._SIGNALS) if hasattr(signal, "pthread_sigmask") else None
        )

    def __exit__(self, *_: object) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def hold_writer_lock(fd: int) -> bool:
    """Hold an exclusive flock on the record while its run lives. The kernel drops it when
    the process dies, so `runbook verify` can tell a run still writing from one cut short."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):
        return False
    return True


def writer_alive(path: Path) -> bool:
    """Whether a live ditsops holds the record open as its writer (see _hold_writer_lock)."""
    try:
        import fcntl

        # O_NONBLOCK: a FIFO named like a record must not hang the probe
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
    except (ImportError, OSError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops our probe lock too
    return False


def append(path: Path, data: bytes) -> None:
    fd = os.open(path, APPEND_FLAGS)
    try:
        view = memoryview(data)
        while view:  # one write() in practice; a short write (disk full) goes on where it stopped
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)
