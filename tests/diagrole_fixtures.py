"""A diagnostics role on the session's throwaway PostgreSQL: what a DBA sets up for ditsops.

    CREATE ROLE ditsops_diag LOGIN PASSWORD '...';
    GRANT pg_monitor TO ditsops_diag;

Registered for the whole suite through `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from ditsops.sandbox.pgcluster import PgCluster


def role_dsn(cluster: PgCluster, role: str, password: str) -> str:
    return f"postgresql://{role}:{quote(password, safe='')}@{cluster.host}:{cluster.port}/postgres"


@pytest.fixture
def make_role(pg_cluster: PgCluster) -> Iterator[Callable[..., str]]:
    """make_role(*grants) -> the DSN of a new login role holding exactly those roles."""
    made: list[str] = []

    def make(*grants: str) -> str:
        role, password = f"diag_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
        with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )
            for granted in grants:
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(granted), sql.Identifier(role)))
        made.append(role)
        return role_dsn(pg_cluster, role, password)

    yield make
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
        for role in made:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))  # its grants too
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def diag_dsn(make_role: Callable[..., str]) -> str:
    """A login role with only pg_monitor: what diagnostics_dsn names."""
    return make_role("pg_monitor")
