"""Container logs: a bounded ring buffer per container, current and previous instance.

The kubelet keeps the log of the running container and of the one before it (what
``kubectl logs --previous`` shows after a crash); so does this, in memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

LogKey = tuple[str, str, str]  # namespace, pod, container


@dataclass
class _ContainerLog:
    current: deque[tuple[float, str]]
    previous: deque[tuple[float, str]] | None = None
    appended: int = 0  # lines ever appended to current, a cursor for follow
    restarted: int = 0

    @classmethod
    def empty(cls, max_lines: int) -> _ContainerLog:
        return cls(deque(maxlen=max_lines))


def rfc3339_nano(epoch: float) -> str:
    whole = int(epoch)
    nanos = int(round((epoch - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


@dataclass
class LogBook:
    max_lines: int = 5000
    _logs: dict[LogKey, _ContainerLog] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, key: LogKey, lines: Iterable[str], when: float | None = None) -> int:
        when = time.time() if when is None else when
        with self._lock:
            log = self._logs.setdefault(key, _ContainerLog.empty(self.max_lines))
            count = 0
            for line in lines:
                for part in str(line).splitlines() or [""]:
                    log.current.append((when, part))
                    log.appended += 1
                    count += 1
            return count

    def restart(self, key: LogKey) -> None:
        """The container died and was started again: its log becomes the previous one."""
        with self._lock:
            log = self._logs.setdefault(key, _ContainerLog.empty(self.max_lines))
            log.previous, log.current = log.current, deque(maxlen=self.max_lines)
            log.appended, log.restarted = 0, log.restarted + 1

    def has_previous(self, key: LogKey) -> bool:
        with self._lock:
            log = self._logs.get(key)
            return log is not None and log.previous is not None

    def forget_pod(self, namespace: str, pod: str) -> None:
        with self._lock:
            for key in [k for k in self._logs if k[0] == namespace and k[1] == pod]:
                del self._logs[key]

    def read(
        self,
        key: LogKey,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
        since: float | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> str:
        return self.read_with_cursor(
            key, previous=previous, tail_lines=tail_lines, since=since, timestamps=timestamps, limit_bytes=limit_bytes
        )[0]

    def read_with_cursor(
        self,
        key: LogKey,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
        since: float | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> tuple[str, tuple[int, int]]:
        """The text `read` gives, and the follow cursor just after it, taken together: a
        line appended in between is neither lost nor sent twice by `follow_from`."""
        with self._lock:
            log = self._logs.get(key)
            entries = list((log.previous if previous else log.current) or []) if log else []
            cursor = (log.restarted, log.appended) if log else (0, 0)
        if since is not None:
            entries = [e for e in entries if e[0] >= since]
        if tail_lines is not None:
            entries = entries[-tail_lines:] if tail_lines > 0 else []
        text = "".join(_format(e, timestamps) for e in entries)
        if limit_bytes is not None and limit_bytes >= 0:
            text = text.encode()[:limit_bytes].decode(errors="ignore")
        return text, cursor

    def follow_from(self, key: LogKey, cursor: tuple[int, int] | None, timestamps: bool) -> tuple[str, tuple[int, int]]:
        """New text since cursor (restart generation, lines appended) and the next cursor."""
        with self._lock:
            log = self._logs.get(key)
            if log is None:
                return "", cursor or (0, 0)
            generation, seen = cursor or (log.restarted, log.appended)
            if generation != log.restarted:
                seen = 0
            fresh = max(0, log.appended - seen)
            entries = list(log.current)[-fresh:] if fresh else []
            return "".join(_format(e, timestamps) for e in entries), (log.restarted, log.appended)


def _format(entry: tuple[float, str], timestamps: bool) -> str:
    when, line = entry
    return f"{rfc3339_nano(when)} {line}\n" if timestamps else f"{line}\n"
