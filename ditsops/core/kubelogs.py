"""Logs of several pods as one stream in time order.

Each pod's log is asked with `timestamps=true`: the kubelet puts its RFC 3339 time in
front of every line, which is what orders lines across pods (kubectl's --prefix leaves
them in arrival order). Read once, the pods' lines are sorted by that time. Followed
(`k8s logs -f`), one stream per pod feeds a short reorder buffer: a line waits
`HOLD` seconds for an earlier line from another pod before it is shown, and at the start
the buffer waits (at most `SETTLE` seconds) for every stream's backlog, so the lines that
were already there come out merged too.
"""

from __future__ import annotations

import heapq
import queue
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ditsops.base.errors import DitsopsError
from ditsops.base.threads import start_background

if TYPE_CHECKING:
    from ditsops.clients.kube import KubeClient

HOLD = 0.2  # seconds a followed line waits for an earlier one from another pod
SETTLE = 1.0  # seconds the first lines wait for every pod's backlog
IDLE_WAIT = 1.0  # seconds between wake-ups when nothing is held (short waits stay interruptible)

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z")


class _Stop:
    """What the `until` thread puts among the lines: the engineer asked to stop."""


_STOP = _Stop()


@dataclass(frozen=True)
class StampedLine:
    pod: str
    text: str
    time: str  # as the kubelet wrote it (RFC 3339, nanoseconds); "" when it wrote none
    at: int  # nanoseconds since the epoch: what orders lines; 0 without a time


def parse_stamp(stamp: str) -> int | None:
    """RFC 3339 with up to nine fraction digits (Go's RFC3339Nano drops trailing zeros,
    so the text does not sort as it reads) -> nanoseconds since the epoch."""
    match = _STAMP.match(stamp)
    if not match:
        return None
    whole, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return int(moment.astimezone(UTC).timestamp()) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def stamped(pod: str, raw: str) -> StampedLine:
    """One line of a `timestamps=true` log: its time split off the text."""
    stamp, _, text = raw.partition(" ")
    at = parse_stamp(stamp)
    if at is None:  # not a timestamped line after all: keep it whole
        return StampedLine(pod, raw, "", 0)
    return StampedLine(pod, text, stamp, at)


def in_time_order(lines: Iterable[StampedLine]) -> list[StampedLine]:
    """Sorted by time; lines of one instant keep their order (sorted() is stable)."""
    return sorted(lines, key=lambda line: line.at)


@dataclass
class Reorder:
    """Lines from several streams, let out in time order once they have waited `hold`
    seconds for an earlier line from a slower stream. Pure: the caller gives the clock."""

    hold: float = HOLD
    _heap: list[tuple[int, int, float, StampedLine]] = field(default_factory=list)
    _count: int = 0

    def add(self, line: StampedLine, arrived: float) -> None:
        self._count += 1
        heapq.heappush(self._heap, (line.at, self._count, arrived, line))

    def ready(self, now: float, *, flush: bool = False) -> list[StampedLine]:
        """The lines due by `now`: the earliest first, while it has waited long enough."""
        out: list[StampedLine] = []
        while self._heap and (flush or now - self._heap[0][2] >= self.hold):
            out.append(heapq.heappop(self._heap)[3])
        return out

    def next_due(self) -> float | None:
        """When the earliest held line may go (its arrival + hold), or None when none is held."""
        return self._heap[0][2] + self.hold if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


@dataclass(frozen=True)
class StreamEnded:
    pod: str
    reason: str


def follow(
    client: KubeClient,
    pods: list[str],
    *,
    emit: Callable[[StampedLine], None],
    ended: Callable[[StreamEnded], None],
    tail: int | None = None,
    since_seconds: int | None = None,
    container: str | None = None,
    keep: Callable[[str], bool] = lambda _: True,
    clock: Callable[[], float] = time.monotonic,
    until: Callable[[], bool] | None = None,
) -> None:
    """Follow every pod's log until all their streams end (the pods went away); lines for
    which `keep(text)` holds go to `emit` in time order. Ctrl-C (KeyboardInterrupt) is the
    usual way out and is left to the caller; the reader threads are daemons. `until`, when
    given, blocks (on a thread of its own) until the engineer asks to stop, True (the `q`
    key): the lines already in are shown, and follow returns."""
    arrivals: queue.Queue[StampedLine | StreamEnded | _Stop] = queue.Queue()

    def pump(pod: str) -> None:
        reason = "log stream ended (the pod is gone)"
        try:
            stream: Iterator[str] = client.follow_logs(
                pod, container=container, tail=tail, since_seconds=since_seconds, timestamps=True
            )
            for raw in stream:
                arrivals.put(stamped(pod, raw))
        except DitsopsError as error:
            reason = error.message
        except Exception as error:  # noqa: BLE001 - a reader that dies silently would hang the follow
            reason = f"log stream failed: {type(error).__name__}: {error}"
        arrivals.put(StreamEnded(pod, reason))

    for pod in pods:
        start_background(pump, args=(pod,), name=f"logs-{pod}")
    if until is not None:
        asked = until

        def stop_when_asked() -> None:
            if asked():
                arrivals.put(_STOP)

        start_background(stop_when_asked, name="logs-stop")
    buffer = Reorder()
    open_streams, started = set(pods), clock()
    heard: set[str] = set()

    def settling() -> bool:
        return bool(open_streams - heard) and clock() - started < SETTLE

    while open_streams or len(buffer):
        due = buffer.next_due()
        wait = SETTLE - (clock() - started) if settling() else (due - clock() if due is not None else IDLE_WAIT)
        try:
            item = arrivals.get(timeout=max(0.0, wait))
        except queue.Empty:
            item = None
        if isinstance(item, _Stop):
            for line in buffer.ready(clock(), flush=True):
                emit(line)
            return
        if isinstance(item, StreamEnded):
            open_streams.discard(item.pod)
            ended(item)
        elif item is not None:
            heard.add(item.pod)
            if item.text and keep(item.text):
                buffer.add(item, clock())
        if settling():
            continue  # the backlogs are still coming in: merge them before showing any
        for line in buffer.ready(clock(), flush=not open_streams):
            emit(line)
