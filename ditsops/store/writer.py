"""A run's lines into the store, on a thread of their own, so the store never slows a walk.

The record hands each line over as soon as it is on disk (a queue put); this thread opens
one connection for the run, first sends what earlier runs left waiting, then the run's
lines in order. The first failure ends its work for this run: it says so once, and the
run's marker stays, so the next command that reaches the store sends the rest.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

from ditsops.base.errors import DitsopsError
from ditsops.base.threads import start_background
from ditsops.core.record import Line
from ditsops.store.connection import StoreSession, open_session, where
from ditsops.store.events import SyncReport, insert_event, insert_run, sync_pending
from ditsops.store.outbox import mark_pending, unmark

_STOP = None
FLUSH_SECONDS = 3.0  # at the end of a run, how long its last lines may take to reach the store


class StoreWriter:
    def __init__(
        self,
        dsn: str,
        secrets: frozenset[str],
        run_id: str,
        directory: Path,
        *,
        on_down: Callable[[str], None],
        on_synced: Callable[[SyncReport], None] = lambda report: None,
    ) -> None:
        self.dsn, self.secrets, self.run_id, self.directory = dsn, secrets, run_id, directory
        self.on_down, self.on_synced = on_down, on_synced
        self.down: str | None = None  # why the store is not being written, once it is not
        self.stored = 0  # lines of this run the store has
        self.ended = False  # the run-end line reached the store
        self._queue: queue.SimpleQueue[Line | None] = queue.SimpleQueue()
        self._session: StoreSession | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        mark_pending(self.run_id, where(self.dsn), self.directory)  # before the first line: a crash leaves it marked
        self._thread = start_background(self._work, name=f"store {self.run_id}")

    def listen(self, line: Line) -> None:
        """The record's listener: never blocks, never fails."""
        self._queue.put(line)

    def finish(self, timeout: float = FLUSH_SECONDS) -> None:
        """After the run: let the last lines go, briefly; what does not make it is synced later."""
        self._queue.put(_STOP)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if self.ended and not self.down:
            unmark(self.run_id, self.directory)
        session, self._session = self._session, None
        if session is not None and (thread is None or not thread.is_alive()):
            session.close()

    def _work(self) -> None:
        try:
            self._session = open_session(self.dsn, self.secrets)
            report = sync_pending(self._session, self.directory, skip=self.run_id)
            if report.runs or report.problems:
                self.on_synced(report)
        except DitsopsError as error:
            self._give_up(error.message)
        except Exception as error:  # noqa: BLE001 - this thread must never die with a traceback mid-walk
            self._give_up(f"record store: internal error {type(error).__name__}")
        while True:
            line = self._queue.get()
            if line is _STOP:
                return
            if self.down:
                continue  # drained and dropped: the local record has it, the marker stays
            try:
                self._send(line)
            except DitsopsError as error:
                self._give_up(error.message)
            except Exception as error:  # noqa: BLE001 - as above: the local record has the line
                self._give_up(f"record store: internal error {type(error).__name__}")

    def _send(self, line: Line) -> None:
        assert self._session is not None
        if line.seq == 1:
            insert_run(self._session, self.run_id, line.entry)
        insert_event(self._session, self.run_id, line.seq, line.text, line.prev, line.hash)
        self.stored = line.seq
        self.ended = line.entry.get("event") == "run-end"

    def _give_up(self, reason: str) -> None:
        if self.down is None:
            self.down = reason
            self.on_down(reason)
