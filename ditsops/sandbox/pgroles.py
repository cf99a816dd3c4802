"""The roles the sandbox's PostgreSQL has besides its superuser, and their DSNs.

- `dits`: what the simulated server (and the db-exhaustion load) log in as. Not a
  superuser, so that it can run out of connections (the superuser slots stay for
  ditsops); reads all of pg_stat_activity.
- `ditsops_diag`: the diagnostics role a DBA would create (README, "The diagnostics
  role"), the `sandbox` profile's diagnostics_dsn: pg_monitor and nothing else.

Both log in with a password (scram-sha-256), like every login on the sandbox cluster.
"""

from __future__ import annotations

from urllib.parse import quote

from ditsops.sandbox.pgcluster import PgCluster

APP_ROLE = "dits"
DIAGNOSTICS_ROLE = "ditsops_diag"


def create_app_role(cluster: PgCluster, password: str) -> None:
    _create_role(cluster, APP_ROLE, password, "GRANT pg_read_all_stats TO {}", "GRANT CREATE ON SCHEMA public TO {}")


def create_diagnostics_role(cluster: PgCluster, password: str) -> None:
    _create_role(cluster, DIAGNOSTICS_ROLE, password, "GRANT pg_monitor TO {}")


def _create_role(cluster: PgCluster, role: str, password: str, *grants: str) -> None:
    from psycopg import sql

    with cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        for grant in grants:
            conn.execute(sql.SQL(grant).format(sql.Identifier(role)))


def role_dsn(cluster: PgCluster, role: str, password: str) -> str:
    return f"postgresql://{role}:{quote(password, safe='')}@{cluster.host}:{cluster.port}/postgres"
