"""The sandbox's shared record store: a `ditsops_store` database in its PostgreSQL.

`sandbox up` creates it, runs `store init` on it and logs the sandbox profile in as a
role that is only a member of the engineers' role `store init` prints the GRANTs for
(INSERT and SELECT, never UPDATE or DELETE): the practice store is set up the way a team's
should be.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ditsops.sandbox.pgcluster import PgCluster

STORE_DATABASE = "ditsops_store"
ENGINEERS_ROLE = "ditsops_engineers"
RECORDER_ROLE = "ditsops_recorder"  # the sandbox profile's login: a member of the engineers' role


def create_record_store(cluster: PgCluster, password: str) -> None:
    from psycopg import sql

    from ditsops.store.schema import grants, init_schema

    with cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(STORE_DATABASE)))
    with cluster.admin(database=STORE_DATABASE) as conn:
        init_schema(conn)
        for statement in grants(ENGINEERS_ROLE, STORE_DATABASE):
            if not statement.startswith("--"):
                conn.execute(statement)
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(RECORDER_ROLE), sql.Literal(password), sql.Identifier(ENGINEERS_ROLE)
            )
        )


def record_store_dsn(details: dict[str, Any]) -> str | None:
    """The sandbox profile's record_store, from the postgres component's details."""
    password = details.get("store_password")
    if not password:
        return None
    host, port = details.get("host", "127.0.0.1"), details.get("port")
    return f"postgresql://{RECORDER_ROLE}:{quote(str(password), safe='')}@{host}:{port}/{STORE_DATABASE}"
