"""Answer bodies read with a size limit and a deadline, whichever HTTP library carries them.

httpx, requests and the Kubernetes client (urllib3) all read a whole body into memory
before the caller sees a byte: a backend (or anything between) answering 2 GB makes
ditsops take 2 GB, then more to decode it. Every client here streams instead and counts
what arrives, decoded: a body above `max_response_bytes` is refused as it crosses the
limit (or at once when its Content-Length says so), one line, exit 4.

The count is also where an abandoned call stops: `clients/deadline.py` stops waiting at
the total deadline, and the reading thread it leaves behind ends at its next chunk past
that deadline instead of reading a dripping answer for ever (`--watch` would otherwise
keep one thread and one socket per refresh).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from typing import Any

from ditsops.core.errors import TargetUnreachable

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024


class AnswerTooLarge(TargetUnreachable):
    """An answer body above the configured limit: refused while it arrived."""

    def __init__(self, service: str, where: str, limit: int) -> None:
        super().__init__(
            f"{service} at {where} answered more than {_size(limit)}: refused "
            "(max_response_bytes, DITSOPS_MAX_RESPONSE_BYTES)"
        )


class Abandoned(TargetUnreachable):
    """The caller stopped waiting (total deadline); the reading thread stops too."""


def declared_length(headers: Any) -> int | None:
    """Content-Length as the server declared it, or None (absent, chunked, nonsense)."""
    try:
        value = headers.get("content-length") if headers is not None else None
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def read_bounded(
    chunks: Iterable[bytes],
    *,
    limit: int,
    service: str,
    where: str,
    length: int | None = None,
    stop_at: float | None = None,
    truncate: bool = False,
) -> bytes:
    """The whole body if it stays within `limit` bytes; AnswerTooLarge as soon as it does not
    (with `truncate`: its first `limit` bytes, the rest left unread).

    `stop_at` (time.monotonic) is the caller's deadline: past it, reading stops."""
    if length is not None and length > limit:
        raise AnswerTooLarge(service, where, limit)
    parts: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit and truncate:
            parts.append(chunk[: len(chunk) - (total - limit)])
            break
        if total > limit:
            raise AnswerTooLarge(service, where, limit)
        parts.append(chunk)
        if stop_at is not None and time.monotonic() > stop_at:
            raise Abandoned(f"{service} at {where}: reading stopped at the deadline")
    return b"".join(parts)


def shut(sock: Any) -> None:
    """Wake a thread blocked reading `sock` (shutdown does; close from another thread may not)."""
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"
