"""Answer bodies read with a size limit and a deadline, whichever HTTP library carries them.

httpx, requests and the Kubernetes client (urllib3) all read a whole body into memory
before the caller sees a byte: a backend (or anything between) answering 2 GB makes
ditsops take 2 GB, then more to decode it. Every client here streams instead and counts
what arrives, decoded: a body above `max_response_bytes` is refused as it crosses the
limit (or at once when its Content-Length says so), one line, exit 4; so is one that
would take more than six times that to parse (see `_check_nodes`).

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

from ditsops.base.errors import TargetUnreachable

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024
# Bytes of memory a parsed dict, list, string and element slot (an int, a pointer) take, about
DICT_COST, LIST_COST, STRING_COST, ELEMENT_COST = 200, 80, 25, 40  # strings: half are keys, which json.loads shares
PARSED_FACTOR = 6  # of max_response_bytes: a range query's points take about 8 times their JSON, so a
# matrix answer is read up to about three quarters of the limit


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
    body = b"".join(parts)
    if not truncate:
        _check_nodes(body, limit, service, where)
    return body


def _check_nodes(body: bytes, limit: int, service: str, where: str) -> None:
    """Parsed JSON can take twenty times its size: 30 MB of `{},` is ten million dicts. What
    parsing would cost is estimated from the bytes that start a dict, a list, a string or an
    element (a bracket or comma inside a string counts too: an upper bound), at C speed
    before anything is parsed, and held to PARSED_FACTOR times the size limit."""
    if parse_cost(body) > max(PARSED_FACTOR * limit, 1 << 20):
        raise TargetUnreachable(
            f"{service} at {where} answered a document that would take more than "
            f"{_size(PARSED_FACTOR * limit)} to read: refused (max_response_bytes, DITSOPS_MAX_RESPONSE_BYTES)"
        )


def parse_cost(data: bytes, *, lines: bool = False) -> int:
    """About the bytes of memory json.loads would take for `data` (an upper bound); with
    `lines`, for JSON lines (each line one more element of the list they are read into)."""
    return (
        DICT_COST * data.count(b"{")
        + LIST_COST * data.count(b"[")
        + STRING_COST * (data.count(b'"') // 2)
        + ELEMENT_COST * (data.count(b",") + (data.count(b"\n") if lines else 0))
    )


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
