"""The simulated Dits server's health checks, in the spec's JSON shape.

The database check is real: a fresh psycopg connection and `SELECT 1` against the DSN the
simulator was given, so a stopped or exhausted sandbox PostgreSQL really degrades
/health and /health/ready. Redis and object storage are not part of the sandbox, so
their checks are simulated (always healthy, with a plausible latency).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass

# libpq rounds connect_timeout below 2 up to 2 s anyway; the spec allows the check 5 s.
DB_CONNECT_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: str  # healthy | unhealthy
    latency_ms: int | None
    message: str | None

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"


@dataclass(frozen=True)
class HealthStatus:
    status: str  # healthy | degraded
    version: str
    uptime_seconds: int
    checks: list[HealthCheck]

    @property
    def http_status(self) -> int:
        return 200 if self.status == "healthy" else 503

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def check_database(dsn: str | None) -> HealthCheck:
    """Connect and run SELECT 1; the latency covers connecting, as a pool-less server would."""
    if not dsn:
        return HealthCheck("database", "unhealthy", None, "no database configured (set the DSN variable)")
    import psycopg  # imported here: the simulator's other endpoints must not pay for it

    started = time.monotonic()
    try:
        with psycopg.connect(
            dsn, connect_timeout=DB_CONNECT_TIMEOUT_SECONDS, autocommit=True, application_name="dits-server-sim"
        ) as connection:
            connection.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        elapsed = round((time.monotonic() - started) * 1000)
        # libpq's first line names host and port and the reason, never the password.
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return HealthCheck("database", "unhealthy", elapsed, reason)
    return HealthCheck("database", "healthy", round((time.monotonic() - started) * 1000), None)


@dataclass(frozen=True)
class DatabaseState:
    """What the simulator's look at PostgreSQL found."""

    usage: float  # share of max_connections held by client backends
    lock_waiters: int | None  # client sessions waiting on a lock (None: could not ask)


def database_state(dsn: str) -> DatabaseState | None:
    """Connection usage and lock waiters of the PostgreSQL behind `dsn`; None when unknown.

    A server refusing with too_many_connections counts as fully used: it is exhausted.
    """
    import psycopg

    query = (
        "SELECT count(*) FILTER (WHERE backend_type = 'client backend'),"
        " current_setting('max_connections')::int,"
        " count(*) FILTER (WHERE backend_type = 'client backend' AND wait_event_type = 'Lock')"
        " FROM pg_stat_activity"
    )
    try:
        with psycopg.connect(
            dsn, connect_timeout=DB_CONNECT_TIMEOUT_SECONDS, autocommit=True, application_name="dits-server-sim"
        ) as connection:
            row = connection.execute(query).fetchone()
    except psycopg.Error as exc:
        # Connection failures carry no SQLSTATE in every libpq version; the text is stable.
        refused = ("too many clients", "too many connections")
        if getattr(exc, "sqlstate", None) == "53300" or any(text in str(exc) for text in refused):
            return DatabaseState(usage=1.0, lock_waiters=None)
        return None
    if row is None or not row[1]:
        return None
    return DatabaseState(usage=row[0] / row[1], lock_waiters=int(row[2]))


def simulated_check(name: str, rng: random.Random) -> HealthCheck:
    return HealthCheck(name, "healthy", rng.randint(1, 4), None)


def health_status(version: str, uptime_seconds: float, dsn: str | None, rng: random.Random) -> HealthStatus:
    checks = [check_database(dsn), simulated_check("redis", rng), simulated_check("storage", rng)]
    overall = "healthy" if all(check.healthy for check in checks) else "degraded"
    return HealthStatus(overall, version, int(uptime_seconds), checks)
