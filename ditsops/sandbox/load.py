"""A Dits server holding PostgreSQL connections and locks, played by one process: the
db-exhaustion fault (most of the connections) and the lock-contention fault (one row lock
and its queue; `--release-when-done`, so ending the holder drains everything).

Run as `python -m ditsops.sandbox.load --dsn-file FILE ...` (the DSN is read from a 0600
file and the file removed, so the password never shows in `ps`). Every connection says
`application_name=dits-server` and is held by its own thread, in one of these roles:

- idle in transaction: BEGIN; a read; then nothing (the classic leaked transaction)
- sleeping: `SELECT pg_sleep(3600)`, an hour-long query
- lock holder: `SELECT ... FOR UPDATE` on a row of `dits_sandbox_locks` (`--lock-row`),
  then idle in transaction while keeping the row lock
- lock waiters: an UPDATE of that row, blocked on the holder (wait_event_type = Lock);
  with `--release-when-done` a waiter disconnects once its UPDATE went through
- idle: connected, doing nothing

A connection the server terminates is never reopened, so terminating backends visibly
relieves the database. The process exits once all its connections are gone, or on
SIGTERM/SIGINT after cancelling and closing everything.
"""

from __future__ import annotations

import argparse
import logging
import math
import select
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

APPLICATION_NAME = "dits-server"
LOCK_TABLE = "dits_sandbox_locks"
CMDLINE_MARKER = "ditsops.sandbox.load"
# Share of max_connections the load takes: above the 90% of DatabaseConnectionsExhausted.
TARGET_SHARE = 0.92
LOAD_HEADROOM = 2  # ordinary slots left free: the diagnostics role and the record store's writer
# How long a connection refused for want of a slot is retried while the load builds up.
CONNECT_RETRY_SECONDS = 10.0

log = logging.getLogger("ditsops.sandbox.load")


@dataclass(frozen=True)
class LoadPlan:
    """How many connections the load holds in each role."""

    idle_in_transaction: int
    sleeping: int
    lock_waiters: int
    idle: int
    lock_holders: int = 1
    lock_row: int = 1  # the row of LOCK_TABLE the holder locks and the waiters update
    release_when_done: bool = False  # waiters disconnect once they got the lock

    @property
    def total(self) -> int:
        return self.idle_in_transaction + self.sleeping + self.lock_waiters + self.idle + self.lock_holders

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}

    def to_args(self) -> list[str]:
        return [
            "--idle-in-transaction",
            str(self.idle_in_transaction),
            "--sleeping",
            str(self.sleeping),
            "--lock-waiters",
            str(self.lock_waiters),
            "--idle",
            str(self.idle),
            "--lock-row",
            str(self.lock_row),
            *(["--release-when-done"] if self.release_when_done else []),
        ]


def lock_queue_plan(waiters: int = 6, row: int = 2) -> LoadPlan:
    """The lock-contention fault: one holder idle in transaction and `waiters` sessions queued
    behind it on their own row (so it never meets db-exhaustion's), each leaving once served."""
    return LoadPlan(
        idle_in_transaction=0, sleeping=0, lock_waiters=waiters, idle=0, lock_row=row, release_when_done=True
    )


def row_query_pattern(row: int) -> str:
    """A LIKE pattern matching the holder's and the waiters' statements on `row`."""
    return f"%{LOCK_TABLE}%WHERE id = {int(row)}%"


def plan_load(max_connections: int, superuser_reserved: int = 3) -> LoadPlan:
    """A plan holding > 90% of max_connections while leaving the superuser slots free.

    With the sandbox's max_connections=70 and 4 superuser slots: 25 idle in transaction,
    25 sleeping, 1 lock holder, 3 waiters, 10 idle = 64 connections (91.4%). Superusers
    take ordinary slots while there are any, so the ordinary slots left (LOAD_HEADROOM)
    are for the roles that are not superusers: the diagnostics role and the record
    store's writer; the operator's ditsops, a superuser, uses the reserved ones.
    """
    total = min(math.floor(max_connections * TARGET_SHARE), max_connections - superuser_reserved - LOAD_HEADROOM)
    if total < 10:
        from ditsops.base.errors import DitsopsError

        raise DitsopsError(f"max_connections={max_connections} is too small to simulate exhaustion (needs at least 15)")
    lock_waiters = 3
    rest = total - 1 - lock_waiters
    busy = int(rest * 0.43)
    return LoadPlan(idle_in_transaction=busy, sleeping=busy, lock_waiters=lock_waiters, idle=rest - 2 * busy)


class ConnectionLoad:
    """Opens the planned connections, one thread each, and holds them."""

    def __init__(self, dsn: str, plan: LoadPlan) -> None:
        self.dsn = dsn
        self.plan = plan
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy_connections: set[Any] = set()  # running a query we may need to cancel
        self._guard = threading.Lock()

    def run(self) -> None:
        self._prepare_lock_table()
        row_locked = threading.Event()
        self._spawn("lock-holder", row_locked)
        if not row_locked.wait(15) and not self.stopping.is_set():
            log.error("the lock holder did not get its row lock; giving up")
            self.stopping.set()
        roles = (
            ["idle-in-transaction"] * self.plan.idle_in_transaction
            + ["sleeping"] * self.plan.sleeping
            + ["lock-waiter"] * self.plan.lock_waiters
            + ["idle"] * self.plan.idle
        )
        for role in roles:
            if self.stopping.is_set():
                break
            self._spawn(role, threading.Event())
        log.info("holding up to %d connections as %r", self.plan.total, APPLICATION_NAME)
        while not self.stopping.is_set() and any(t.is_alive() for t in self._threads):
            self.stopping.wait(0.5)
        if self.stopping.is_set():
            self._cancel_running_queries()
        for thread in self._threads:
            thread.join(10)
        log.info("all connections closed; exiting")

    def _prepare_lock_table(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, application_name=APPLICATION_NAME, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (id integer PRIMARY KEY, note text)")
            conn.execute(
                f"INSERT INTO {LOCK_TABLE} (id, note) VALUES ({int(self.plan.lock_row)}, "
                "'repository metadata') ON CONFLICT (id) DO NOTHING"
            )

    def _spawn(self, role: str, ready: threading.Event) -> None:
        thread = threading.Thread(target=self._hold, args=(role, ready), name=role, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _connect(self, role: str) -> Any:
        """A connection for `role`. The load takes all but the last slot a non-superuser may
        have, and the simulator's own short checks (its /health, its pool gauge) borrow
        that slot now and then: a refusal for want of a slot while the load builds up is
        retried for a few seconds, as a real pool keeps trying to reach its size. Only
        here, at the start: a session the server ends later is never replaced."""
        import psycopg

        deadline = time.monotonic() + CONNECT_RETRY_SECONDS
        while True:
            try:
                return psycopg.connect(
                    self.dsn,
                    application_name=APPLICATION_NAME,
                    autocommit=role not in {"idle-in-transaction", "lock-holder"},
                    connect_timeout=10,
                    # If this process dies without closing, the server notices the dead
                    # client within a second even in the middle of pg_sleep.
                    options="-c client_connection_check_interval=1000",
                )
            except psycopg.OperationalError as exc:
                no_slot = any(text in str(exc) for text in ("connection slots are reserved", "too many clients"))
                if not no_slot or time.monotonic() > deadline or self.stopping.wait(0.2):
                    raise

    def _hold(self, role: str, ready: threading.Event) -> None:
        import psycopg

        try:
            conn = self._connect(role)
        except psycopg.Error as exc:
            log.warning("%s: could not connect: %s", role, str(exc).strip())
            return
        try:
            self._play(role, conn, ready)
            if role == "lock-waiter" and self.plan.release_when_done:
                log.info("%s: got the lock and updated the row; disconnecting", role)
                return
            self._wait_until_closed(conn)
        except psycopg.Error as exc:
            if not self.stopping.is_set():
                # Terminated (or the server went away): not reconnecting is the point.
                log.info("%s: session ended by the server, not reconnecting (%s)", role, _first_line(exc))
        finally:
            with self._guard:
                self._busy_connections.discard(conn)
            conn.close()

    def _play(self, role: str, conn: Any, ready: threading.Event) -> None:
        if role == "idle-in-transaction":
            conn.execute(f"SELECT id, note FROM {LOCK_TABLE} WHERE id = 1")
        elif role == "lock-holder":
            conn.execute(f"SELECT id, note FROM {LOCK_TABLE} WHERE id = {int(self.plan.lock_row)} FOR UPDATE")
            ready.set()
        elif role == "sleeping":
            self._run_long(conn, "SELECT pg_sleep(3600)")
        elif role == "lock-waiter":
            self._run_long(conn, f"UPDATE {LOCK_TABLE} SET note = 'dits-server' WHERE id = {int(self.plan.lock_row)}")
        else:
            conn.execute("SELECT 1")

    def _run_long(self, conn: Any, query: str) -> None:
        with self._guard:
            self._busy_connections.add(conn)
        if self.stopping.is_set():  # a stop that came before we registered would miss us
            return
        conn.execute(query)
        with self._guard:
            self._busy_connections.discard(conn)

    def _wait_until_closed(self, conn: Any) -> None:
        """Sit idle until the server ends the session (or we are asked to stop).

        Watching the socket instead of polling with queries keeps the session's state
        and `state_change` untouched, so diagnostics see a genuinely idle session.
        """
        from psycopg.pq import ConnStatus

        while not self.stopping.is_set():
            readable, _, _ = select.select([conn.fileno()], [], [], 0.5)
            if readable:
                conn.pgconn.consume_input()  # raises once the server has hung up
                if conn.pgconn.status == ConnStatus.BAD:
                    return

    def _cancel_running_queries(self) -> None:
        with self._guard:
            busy = list(self._busy_connections)
        for conn in busy:
            try:
                cancel = getattr(conn, "cancel_safe", None) or conn.cancel
                cancel()
            except Exception as exc:  # the session may be ending right now anyway
                log.debug("cancel failed: %s", exc)


def read_dsn_file(path: Path) -> str:
    """The DSN from its 0600 hand-over file, which is removed once read."""
    try:
        dsn = path.read_text(encoding="utf-8").strip()
    finally:
        path.unlink(missing_ok=True)
    if not dsn:
        raise SystemExit(f"empty DSN file {path}")
    return dsn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ditsops.sandbox.load")
    parser.add_argument("--dsn-file", type=Path, required=True)
    parser.add_argument("--idle-in-transaction", type=int, default=18)
    parser.add_argument("--sleeping", type=int, default=18)
    parser.add_argument("--lock-waiters", type=int, default=3)
    parser.add_argument("--idle", type=int, default=6)
    parser.add_argument("--lock-row", type=int, default=1)
    parser.add_argument("--release-when-done", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(threadName)s %(message)s")
    plan = LoadPlan(
        idle_in_transaction=args.idle_in_transaction,
        sleeping=args.sleeping,
        lock_waiters=args.lock_waiters,
        idle=args.idle,
        lock_row=args.lock_row,
        release_when_done=args.release_when_done,
    )
    load = ConnectionLoad(read_dsn_file(args.dsn_file), plan)

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s; closing all connections", signal.Signals(signum).name)
        load.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    load.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
