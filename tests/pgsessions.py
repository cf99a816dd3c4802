"""Real PostgreSQL sessions in chosen states, for tests that count and terminate them
(the `sessions` fixture, registered through `pytest_plugins` in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.helpers import wait_until


class Sessions:
    """Opens sessions tagged with one application_name; closes whatever is left at the end."""

    def __init__(self, dsn: str, app: str | None = None) -> None:
        self.dsn = dsn
        self.app = app or f"test-{uuid.uuid4().hex[:8]}"
        self.conns: list[psycopg.Connection] = []
        self.table = f"lock_{uuid.uuid4().hex[:8]}"

    def _open(self, *, autocommit: bool = False) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn, application_name=self.app, autocommit=autocommit)
        self.conns.append(conn)
        return conn

    def idle(self) -> psycopg.Connection:
        return self._open(autocommit=True)

    def idle_in_transaction(self) -> psycopg.Connection:
        conn = self._open()
        conn.execute("SELECT 1")  # opens a transaction and leaves it open
        return conn

    def active(self, seconds: int = 120) -> psycopg.Connection:
        conn = self._open(autocommit=True)
        # libpq-level send: the query runs on the server while the test carries on.
        conn.pgconn.send_query(f"SELECT pg_sleep({seconds})".encode())
        return conn

    def lock_holder(self) -> psycopg.Connection:
        with psycopg.connect(self.dsn, autocommit=True) as setup:
            setup.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id int)")
        conn = self._open()
        conn.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
        return conn

    def waiter(self) -> psycopg.Connection:
        conn = self._open(autocommit=True)
        conn.pgconn.send_query(f"SELECT count(*) FROM {self.table}".encode())
        return conn

    def exclusive_waiter(self) -> psycopg.Connection:
        """Queues for ACCESS EXCLUSIVE on a lock_holder's table: every waiter that comes after
        it waits on both (pg_blocking_pids names the holder and this queued request)."""
        conn = self._open(autocommit=True)
        conn.pgconn.send_query(f"BEGIN; LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE".encode())
        return conn

    def row_lock_holder(self) -> psycopg.Connection:
        """Idle in transaction holding a row lock (SELECT ... FOR UPDATE on row 1)."""
        with psycopg.connect(self.dsn, autocommit=True) as setup:
            setup.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)")
            setup.execute(f"INSERT INTO {self.table} (id) VALUES (1) ON CONFLICT DO NOTHING")
        conn = self._open()
        conn.execute(f"SELECT * FROM {self.table} WHERE id = 1 FOR UPDATE")
        return conn

    def row_waiter(self) -> psycopg.Connection:
        """Queues to update the row a row_lock_holder locked; finishes once it may."""
        conn = self._open(autocommit=True)
        conn.pgconn.send_query(f"UPDATE {self.table} SET n = n + 1 WHERE id = 1".encode())
        return conn

    def pids(self) -> list[int]:
        return [c.info.backend_pid for c in self.conns]

    def wait_until(self, sql: str, expected, timeout: float = 10.0) -> None:
        """Poll (as a separate session) until sql returns expected; sessions settle asynchronously."""
        with psycopg.connect(self.dsn, autocommit=True) as probe:
            wait_until(
                lambda: probe.execute(sql, {"app": self.app}).fetchone()[0],
                timeout,
                f"{sql} -> {expected}",
                until=lambda got: got == expected,
            )

    def alive(self) -> set[int]:
        with psycopg.connect(self.dsn, autocommit=True) as probe:
            rows = probe.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.app,)).fetchall()
        return {r[0] for r in rows}

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.cancel()
            except Exception:  # noqa: BLE001 - already terminated by the test
                pass
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        with psycopg.connect(self.dsn, autocommit=True) as cleanup:
            cleanup.execute(f"DROP TABLE IF EXISTS {self.table}")


@pytest.fixture
def sessions(pg_dsn: str) -> Iterator[Sessions]:
    """Real sessions in chosen states, tagged with one application_name; closed afterwards."""
    group = Sessions(pg_dsn)
    yield group
    group.close()
