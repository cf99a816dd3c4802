"""Reading a small text file the engineer pointed at (a runbook, the config), bounded.

- Only regular files: a FIFO would block forever, /dev/zero would never end. The file is
  opened non-blocking and checked with fstat on the open descriptor, so what is checked
  is what is read.
- At most MAX_BYTES: runbooks and configs are a few kilobytes.
- Opened with the process's own permissions, never more.
- `withheld` says when error messages must not quote anything from the file (no values,
  no tokens, only line numbers): when it is not the engineer's to read (owned by someone
  else and not readable by their group or by everyone: e.g. root linting a symlink to
  another user's 0600 file), or when it was reached through a symlink that leaves the
  directory it was found in (a runbook link to /etc/shadow must not become a way to
  print /etc/shadow a line at a time).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 1 << 20  # 1 MiB


class FileProblem(Exception):
    """Why the file cannot be read; the message never quotes its contents."""


@dataclass(frozen=True)
class FileText:
    text: str
    withheld: str | None = None  # why its contents must not appear in messages


def read_text(path: Path, *, limit: int = MAX_BYTES) -> FileText:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise FileProblem(f"cannot read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem("not a regular file")
        if info.st_size > limit:
            raise FileProblem(f"larger than {_size(limit)} ({_size(info.st_size)}); refusing to read it")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileProblem(f"larger than {_size(limit)}; refusing to read it")
    except OSError as error:
        raise FileProblem(f"cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as error:
        line = b"".join(chunks).count(b"\n", 0, error.start) + 1
        raise FileProblem(f"line {line}: not UTF-8 text") from None
    return FileText(text, _withheld(path, info))


def _withheld(path: Path, info: os.stat_result) -> str | None:
    if path.is_symlink():
        target, home = path.resolve(), path.parent.resolve()
        if not target.is_relative_to(home):
            return "reached through a symlink out of its directory"
    if info.st_uid == os.geteuid() or info.st_mode & stat.S_IROTH:
        return None
    if info.st_mode & stat.S_IRGRP and info.st_gid in {os.getegid(), *os.getgroups()}:
        return None
    return "owned by another user and not shared with you"


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB" if count >= 1 << 20 else f"{count} bytes"
