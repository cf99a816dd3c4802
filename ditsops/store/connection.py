"""One session on the record store, opened quickly or not at all.

The store is never worth waiting for: a run goes on without it, so the connect timeout is
short and every statement and a silent network are bounded too (a hung store must not
hold a record's lines back for long; they are on disk and synced later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ditsops.base.errors import DitsopsError, TargetUnreachable
from ditsops.base.secrets import redact_text

CONNECT_TIMEOUT = 2  # seconds (libpq's smallest useful value)
STATEMENT_TIMEOUT_MS = 5000
TCP_USER_TIMEOUT_MS = 5000  # a peer gone silent mid-write fails the write after this


_FAILED: set[str] = set()  # DSNs this process found unreachable: one wait per command is enough


def failed_before(dsn: str) -> bool:
    return dsn in _FAILED


def remember_failed(dsn: str) -> None:
    _FAILED.add(dsn)


class StoreUnreachable(TargetUnreachable):
    """The record store could not be reached (or was lost)."""


class StoreRefused(DitsopsError):
    """The store answered but would not take what was sent (its chain check, a privilege)."""


def where(dsn: str) -> str:
    from ditsops.clients.postgres import describe_target  # only for a message: its imports cost

    try:
        return describe_target(dsn).describe()
    except DitsopsError:
        return "the configured record_store"


def one_line(error: BaseException, secrets: frozenset[str]) -> str:
    primary = getattr(getattr(error, "diag", None), "message_primary", None) or str(error)
    lines = [line.strip() for line in str(primary).strip().splitlines() if line.strip()]
    return redact_text(lines[0] if lines else type(error).__name__, secrets)


# What every store session sets over the DSN (psycopg's keyword arguments, libpq's keywords).
SETTINGS = {
    "application_name": "ditsops store",
    "connect_timeout": str(CONNECT_TIMEOUT),
    "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}",
    "tcp_user_timeout": str(TCP_USER_TIMEOUT_MS),
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "2",
}


def connect(dsn: str, secrets: frozenset[str]) -> Any:
    """An autocommit psycopg connection to the store, or StoreUnreachable within ~2 s."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    try:
        return psycopg.connect(make_conninfo(dsn, **SETTINGS), autocommit=True)
    except psycopg.Error as error:
        _FAILED.add(dsn)
        raise StoreUnreachable(f"record store unreachable at {where(dsn)}: {one_line(error, secrets)}") from None
    except Exception:  # noqa: BLE001 - a malformed DSN raises ProgrammingError/ValueError kinds
        _FAILED.add(dsn)
        raise StoreUnreachable(f"record store: the record_store DSN at {where(dsn)} is malformed") from None


def translate(error: BaseException, conn: Any, dsn: str, secrets: frozenset[str]) -> DitsopsError:
    """A psycopg error met while talking to the store, as one of ours: lost (the session
    is gone: try again later) or refused (the store said no: trying again will not help)."""
    if conn.closed or conn.broken:
        return StoreUnreachable(f"lost the record store at {where(dsn)}: {one_line(error, secrets)}")
    return StoreRefused(f"the record store refused: {one_line(error, secrets)}")


@dataclass(frozen=True)
class StoreSession:
    """An open store connection and what its errors must never show."""

    conn: Any
    dsn: str
    secrets: frozenset[str]

    def execute(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        import psycopg

        try:
            return self.conn.execute(query, params)
        except psycopg.Error as error:
            raise translate(error, self.conn, self.dsn, self.secrets) from None

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001, S110 - closing a lost session: nothing left to do
            pass


def open_session(dsn: str, secrets: frozenset[str], *, check_schema: bool = True) -> StoreSession:
    """A session on the store (StoreUnreachable within about two seconds otherwise), whose
    schema this ditsops knows (else StoreSchemaError: `store init`, or a newer ditsops)."""
    from ditsops.store.schema import require_known, schema_version

    session = StoreSession(connect(dsn, secrets), dsn, secrets)
    if check_schema:
        import psycopg

        try:
            require_known(schema_version(session.conn))
        except psycopg.Error as error:
            session.close()
            raise translate(error, session.conn, dsn, secrets) from None
        except DitsopsError:
            session.close()
            raise
    return session
