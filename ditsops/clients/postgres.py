"""PostgreSQL through psycopg 3, with every library error translated at this boundary.

Diagnostics cannot change anything. SQL that did not ship with ditsops (`diagnose`) is
sent only on a session whose role the server says can do no harm (clients/pgrole.py,
asked on connect): no superuser, none of the roles that signal, read or write server
files or run programs. Every diagnostic is also checked by ditsops.base.sqlguard before it is
sent (one SELECT/WITH/VALUES/SHOW/TABLE/EXPLAIN statement, no side-effecting function;
refused with nothing sent otherwise), sent through the extended protocol as a prepared
statement (a second statement after a `;` is a server error, never run), inside a READ
ONLY transaction that is rolled back, never committed. The session has
statement_timeout and lock_timeout set so a diagnostic can never queue behind a lock or
run away, standard_conforming_strings on (the guard reads literals as the server does),
and it is visible to the DBA as application_name=ditsops. After SQL from outside ditsops,
the session's advisory locks are released: a session-level lock survives the rollback.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ditsops import sql
from ditsops.base.durations import parse_duration
from ditsops.base.errors import ConfigError, DitsopsError, TargetError, TargetUnreachable
from ditsops.base.secrets import raw_at_in_userinfo, redact_text
from ditsops.base.sqlguard import Violation
from ditsops.base.sqlguard import check as check_diagnostic
from ditsops.clients.pgrole import ROLE_SQL, RoleCheck, judge

OLDEST_SUPPORTED = 12
NEWEST_TESTED = 17


@dataclass(frozen=True)
class DbTarget:
    host: str
    port: str
    dbname: str
    user: str

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


# Rows kept of SQL that did not ship with ditsops: `SELECT generate_series(1, 1e9)` must not
# fill the memory of the engineer's laptop before statement_timeout ends it.
MAX_ROWS = 10_000


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    more: bool = False  # rows beyond MAX_ROWS were left unread (the query was cancelled there)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _milliseconds(text: str, name: str) -> int:
    try:
        return int(parse_duration(text).total_seconds() * 1000)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def describe_target(dsn: str) -> DbTarget:
    """Where the DSN (plus libpq's PG* variables) points, without connecting."""
    import os

    from psycopg.conninfo import conninfo_to_dict

    if raw_at_in_userinfo(dsn):
        raise ConfigError(
            "the database DSN has a raw '@' in its user or password: write it as %40 "
            "(libpq would end the password there and take the rest for the host)"
        )
    try:
        info = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - psycopg raises ProgrammingError for a malformed DSN
        raise ConfigError("the database DSN is malformed") from None
    return DbTarget(
        host=str(info.get("host") or os.environ.get("PGHOST") or "localhost"),
        port=str(info.get("port") or os.environ.get("PGPORT") or "5432"),
        dbname=str(
            info.get("dbname")
            or os.environ.get("PGDATABASE")
            or info.get("user")
            or os.environ.get("PGUSER")
            or os.environ.get("USER", "")
        ),
        user=str(info.get("user") or os.environ.get("PGUSER") or os.environ.get("USER", "")),
    )


class UnsafeDiagnostic(DitsopsError):
    """A diagnostic that could change something; refused before anything was sent."""


class PrivilegedSession(DitsopsError):
    """SQL that did not ship with ditsops, refused on a session whose role could do harm.
    An error of the step (exit 1), not a missing setting quietly skipped: the run must not
    look as if it had checked what it was asked to."""


def guard(query: str) -> None:
    """Refuse SQL that is not a read-only diagnostic (see ditsops.base.sqlguard)."""
    problems = _problems(query)
    if problems:
        raise UnsafeDiagnostic(
            "refused to send the diagnostic, nothing was sent: " + "; ".join(map(str, problems)),
            hint="a diagnostic is one read-only statement; changes are action steps (README, Safety rules)",
        )


@lru_cache(maxsize=256)
def _problems(query: str) -> tuple[Violation, ...]:
    return tuple(check_diagnostic(query))


# Where a DBA is told how to set up the role SQL from outside ditsops runs as.
DIAGNOSTICS_HINT = (
    "set diagnostics_dsn (or DITSOPS_DIAGNOSTICS_DSN) to a login role of its own with only pg_monitor: "
    "README, 'The diagnostics role'"
)


class PostgresClient:
    def __init__(self, connection: Any, secrets: frozenset[str], target: DbTarget) -> None:
        self._conn = connection
        self._secrets = secrets
        self.target = target
        # What the server said about this session's role (check_role); None: not asked.
        self.role: RoleCheck | None = None
        self.server_version: int = connection.info.server_version
        self.warnings: list[str] = []
        # One session, several threads (prefetched steps): one statement at a time.
        self._lock = threading.Lock()
        major = self.server_version // 10000
        if major < OLDEST_SUPPORTED:
            connection.close()
            raise TargetError(
                f"PostgreSQL {self.version_text} at {target.describe()} is older than {OLDEST_SUPPORTED}, "
                f"the oldest version ditsops supports (12 to {NEWEST_TESTED})"
            )
        if major > NEWEST_TESTED:
            self.warnings.append(f"PostgreSQL {self.version_text} is newer than {NEWEST_TESTED}, the newest tested")

    @property
    def version_text(self) -> str:
        major, rest = divmod(self.server_version, 10000)
        return f"{major}.{rest % 100}" if major >= 10 else f"{major}.{rest // 100}.{rest % 100}"

    @classmethod
    def connect(
        cls,
        dsn: str,
        *,
        connect_timeout: int,
        statement_timeout: str,
        lock_timeout: str,
        secrets: frozenset[str] = frozenset(),
        search_path: str | None = None,
    ) -> PostgresClient:
        """A session on `dsn` ("" lets libpq read the PG* variables); the timeouts are
        durations such as "30s", `secrets` what to scrub from messages. `search_path`
        pins where names resolve (the operator's session: only pg_catalog, so that no
        object someone created can stand in for a catalog function in shipped SQL)."""
        import psycopg

        target = describe_target(dsn)
        statement = _milliseconds(statement_timeout, "statement_timeout")
        lock = _milliseconds(lock_timeout, "lock_timeout")
        options = f"-c statement_timeout={statement} -c lock_timeout={lock} -c standard_conforming_strings=on"
        if search_path:
            options += f" -c search_path={search_path}"  # no spaces: libpq splits options on them
        try:
            connection = psycopg.connect(
                dsn,
                application_name="ditsops",
                connect_timeout=connect_timeout,
                options=options,
                autocommit=True,
            )
        except psycopg.Error as error:
            reason = _first_line(str(error), secrets)
            raise TargetUnreachable(f"cannot connect to PostgreSQL at {target.describe()}: {reason}") from None
        return cls(connection, secrets, target)

    def close(self) -> None:
        self._conn.close()

    @property
    def broken(self) -> bool:
        return bool(self._conn.closed or self._conn.broken)

    @property
    def backend_pid(self) -> int:
        pid: int = self._conn.info.backend_pid
        return pid

    def check_role(self) -> RoleCheck:
        """Ask the server whether this session's role could do harm (clients/pgrole.py)."""
        # Catalog names only: an operator someone created must not answer for the server.
        row = self._execute(ROLE_SQL, None, read_only=True, catalog_only=True).dicts()[0]
        self.role = judge(row)
        return self.role

    def diagnose(self, query: str, params: dict[str, Any] | None = None) -> QueryResult:
        """Run SQL that did not ship with ditsops: only on a role checked harmless on connect,
        guarded, prepared, in a READ ONLY transaction rolled back, advisory locks released."""
        role = self.role or self.check_role()
        if not role.harmless:
            raise PrivilegedSession(
                f"refused to send SQL that did not ship with ditsops, nothing was sent: {role.describe()}; "
                + DIAGNOSTICS_HINT
            )
        guard(query)
        try:
            return self._execute(query, params, read_only=True, max_rows=MAX_ROWS)
        finally:
            self._release_advisory_locks()

    def named(self, name: str, params: dict[str, Any] | None = None) -> QueryResult:
        """A named read-only diagnostic shipped in ditsops/sql."""
        query = sql.load(name)
        guard(query)
        return self._execute(query, params, read_only=True)

    def _release_advisory_locks(self) -> None:
        """A session-level advisory lock outlives the rolled-back transaction; the SQL just
        run (through a function it called) may have taken one. This session holds no lock
        of ditsops' own (the lease has its own connection)."""
        import psycopg

        if self.broken:
            return
        try:
            with self._lock:
                self._conn.execute("SELECT pg_catalog.pg_advisory_unlock_all()")
        except psycopg.Error:
            self._conn.close()  # a session that may still hold a lock is not used again

    def act(self, name: str, params: dict[str, Any]) -> QueryResult:
        """Run a named action statement that changes server state (signals backends)."""
        return self._execute(sql.load_action(name), params, read_only=False)

    def _execute(
        self,
        query: str,
        params: dict[str, Any] | None,
        *,
        read_only: bool,
        catalog_only: bool = False,
        max_rows: int | None = None,
    ) -> QueryResult:
        """`catalog_only`: names resolve in pg_catalog alone for this one transaction, whatever
        search_path the database or role was given (ALTER DATABASE ... SET search_path).
        `max_rows`: read row by row and stop (cancelling the query) after that many."""
        import psycopg

        more = False

        try:
            with self._lock:
                self._conn.read_only = read_only
                with self._conn.transaction() as transaction, self._conn.cursor() as cursor:
                    if catalog_only:
                        cursor.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)")
                    # prepare=True: always the extended protocol (Parse/Bind/Execute), even
                    # without parameters, so `SELECT 1; DROP TABLE t` is "cannot insert
                    # multiple commands into a prepared statement", not two statements.
                    if max_rows is None:
                        cursor.execute(query, params or {}, prepare=True)
                        rows = cursor.fetchall() if cursor.description else []
                    else:
                        # stream(): the extended protocol too (one statement), one row at a time.
                        rows, stream = [], cursor.stream(query, params or {})
                        for row in stream:
                            if len(rows) == max_rows:
                                more = True
                                break
                            rows.append(row)
                        stream.close()  # cancels the query when rows were left
                    columns = tuple(c.name for c in cursor.description or ())
                    if read_only:  # a diagnostic has nothing to keep: never commit it
                        raise psycopg.Rollback(transaction)
            return QueryResult(columns, rows, more)
        except psycopg.errors.QueryCanceled:
            raise TargetError("PostgreSQL cancelled the query: statement_timeout reached") from None
        except psycopg.errors.LockNotAvailable:
            raise TargetError("PostgreSQL gave up waiting for a lock: lock_timeout reached") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            if self._conn.closed or self._conn.broken:
                reason = _first_line(str(error), self._secrets)
                raise TargetUnreachable(
                    f"lost the connection to PostgreSQL at {self.target.describe()}: {reason}"
                ) from None
            raise TargetError(f"PostgreSQL: {_first_line(str(error), self._secrets)}") from None
        except psycopg.Error as error:
            primary = getattr(error.diag, "message_primary", None) or str(error)
            raise TargetError(f"PostgreSQL rejected the query: {_first_line(primary, self._secrets)}") from None


def _first_line(message: str, secrets: frozenset[str]) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return redact_text(lines[0] if lines else "unknown error", secrets)
