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
    data, info = _read(path, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise FileProblem(f"line {line}: not UTF-8 text") from None
    return FileText(text, _withheld(path, info))


def read_bytes(path: Path, *, limit: int) -> bytes:
    """A regular file's bytes, at most `limit` of them (a run record: FileProblem beyond)."""
    return _read(path, limit)[0]


def read_ends(path: Path, *, limit: int) -> tuple[bytes, bytes]:
    """The first and the last `limit` bytes of a regular file of any size (the same bytes
    twice when it is smaller): what `runbook runs` needs of a record, never the middle."""
    fd, info = _open_regular(path)
    try:
        head = _read_upto(fd, limit)
        if info.st_size <= limit:
            return head, head
        os.lseek(fd, max(info.st_size - limit, 0), os.SEEK_SET)
        return head, _read_upto(fd, limit)
    except OSError as error:
        raise FileProblem(f"cannot read: {error.strerror}") from None
    finally:
        os.close(fd)


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Opened without blocking (a FIFO), then checked on the descriptor: what is checked is
    what is read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise FileProblem(f"cannot read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
    except OSError as error:
        os.close(fd)
        raise FileProblem(f"cannot read: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FileProblem("not a regular file")
    return fd, info


def _read_upto(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _read(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    fd, info = _open_regular(path)
    try:
        if info.st_size > limit:
            raise FileProblem(f"larger than {_size(limit)} ({_size(info.st_size)}); refusing to read it")
        data = _read_upto(fd, limit + 1)  # one byte more: a file that grew past the limit shows it
        if len(data) > limit:
            raise FileProblem(f"larger than {_size(limit)}; refusing to read it")
    except OSError as error:
        raise FileProblem(f"cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
    return data, info


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


def replace_quietly(path: Path, text: str, *, prefix: str) -> None:
    """Write `text` to a temporary file beside `path` and rename it over `path`, so that a
    reader sees the old file or the new one, never half of it. A cache that cannot be
    written is only a cache: any OSError leaves things as they were, without a word."""
    import tempfile

    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
        temporary = None
    except OSError:
        pass
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
