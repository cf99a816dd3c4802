"""A PostgreSQL session that holds one advisory lock, with psycopg errors translated here.

The session is dedicated: a session-level advisory lock lives exactly as long as its
connection, so a ditsops that dies (even by ``kill -9``) releases it when the server notices
the socket close, and nothing else ditsops does may share or reset the connection.
``application_name`` names the holder so that others can tell who it is from
``pg_stat_activity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ditsops.base.errors import TargetError, TargetUnreachable
from ditsops.base.secrets import redact_text

# Short timeouts: nothing this session runs may wait on anything (try-lock never blocks).
_OPTIONS = "-c statement_timeout=5000 -c lock_timeout=1000 -c idle_in_transaction_session_timeout=10000"

# Who holds advisory lock `key` in this database: a bigint key shows in pg_locks as its two
# 32-bit halves (classid high, objid low) with objsubid 1 (objsubid 2 is the int4,int4 form).
_HOLDER_SQL = """
SELECT a.pid, a.application_name, a.backend_start, a.usename, a.client_addr::text, a.client_hostname
  FROM pg_locks l
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.classid::bigint = %(hi)s AND l.objid::bigint = %(lo)s AND l.objsubid = 1
   AND l.pid <> pg_backend_pid()
 LIMIT 1
"""


@dataclass(frozen=True)
class LockHolder:
    pid: int
    application_name: str | None
    backend_start: datetime | None  # NULL without pg_read_all_stats for another role's session
    user: str | None
    client: str | None


class AdvisoryLockSession:
    def __init__(self, connection: Any, where: str, secrets: frozenset[str]) -> None:
        self._conn = connection
        self.where = where
        self._secrets = secrets

    @classmethod
    def connect(
        cls,
        dsn: str,
        application_name: str,
        *,
        where: str,
        connect_timeout: float = 5.0,
        secrets: frozenset[str] = frozenset(),
    ) -> AdvisoryLockSession:
        import psycopg

        try:
            connection = psycopg.connect(
                dsn,
                application_name=application_name,
                connect_timeout=max(1, int(connect_timeout)),
                options=_OPTIONS,
                autocommit=True,  # a session lock, never inside a transaction someone must end
            )
        except psycopg.Error as error:
            raise TargetUnreachable(
                f"cannot connect to PostgreSQL at {where}: {_first_line(str(error), secrets)}"
            ) from None
        return cls(connection, where, secrets)

    @property
    def backend_pid(self) -> int:
        pid: int = self._conn.info.backend_pid
        return pid

    def current_database(self) -> str:
        return str(self._one("SELECT current_database()", {})[0])

    def try_lock(self, key: int) -> bool:
        return bool(self._one("SELECT pg_try_advisory_lock(%(key)s)", {"key": key})[0])

    def unlock(self, key: int) -> bool:
        return bool(self._one("SELECT pg_advisory_unlock(%(key)s)", {"key": key})[0])

    def holder(self, key: int) -> LockHolder | None:
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        row = self._one(_HOLDER_SQL, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}, allow_none=True)
        if row is None:
            return None
        pid, app, start, user, addr, hostname = row
        return LockHolder(pid, app, start, user, hostname or addr)

    @property
    def closed(self) -> bool:
        return bool(self._conn.closed or self._conn.broken)

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing a broken socket must not mask the real outcome
            pass

    def _one(self, query: str, params: dict[str, Any], *, allow_none: bool = False) -> Any:
        import psycopg

        try:
            with self._conn.cursor() as cursor:
                cursor.execute(query, params)
                row = cursor.fetchone()
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            if self.closed:
                raise TargetUnreachable(
                    f"lost the connection to PostgreSQL at {self.where}: {_first_line(str(error), self._secrets)}"
                ) from None
            raise TargetError(f"PostgreSQL: {_first_line(str(error), self._secrets)}") from None
        except psycopg.Error as error:
            primary = getattr(error.diag, "message_primary", None) or str(error)
            raise TargetError(f"PostgreSQL rejected the lease query: {_first_line(primary, self._secrets)}") from None
        if row is None and not allow_none:
            raise TargetError("PostgreSQL returned no row for the lease query")
        return row


def _first_line(message: str, secrets: frozenset[str]) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return redact_text(lines[0] if lines else "unknown error", secrets)
