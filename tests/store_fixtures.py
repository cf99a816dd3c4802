"""A record store for tests: a database of its own in the session's PostgreSQL, its schema
made by `store init`, and an engineer who logs in as a member of the engineers' role (INSERT
and SELECT only), as README tells a team to set it up. Import explicitly."""

from __future__ import annotations

import json
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from ditsops.core.record import line_hash
from ditsops.sandbox.pgcluster import PgCluster
from ditsops.store.schema import grants
from tests.cli import run_cli
from tests.test_records import TINY  # the records tests' runbook of three notes


def dsn_for(cluster: PgCluster, database: str, user: str | None = None, password: str | None = None) -> str:
    user = user or cluster.user
    password = quote(password or cluster.password, safe="")
    return f"postgresql://{user}:{password}@{cluster.host}:{cluster.port}/{database}"


def create_database(cluster: PgCluster, prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with cluster.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture(scope="module")
def store_db(pg_cluster: PgCluster) -> str:
    """A database with the store's schema, made by `ditsops store init`; its superuser DSN."""
    dsn = dsn_for(pg_cluster, create_database(pg_cluster, "store"))
    done = run_cli("store", "init", env={"DITSOPS_RECORD_STORE": dsn})
    assert done.returncode == 0, done.stdout + done.stderr
    return dsn


@pytest.fixture(scope="module")
def engineer_dsn(pg_cluster: PgCluster, store_db: str) -> str:
    """An engineer's login: a member of an engineers' role granted what `store init` prints."""
    database = store_db.rsplit("/", 1)[1]
    group = f"engineers_{secrets.token_hex(4)}"
    user, password = f"eng_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with psycopg.connect(store_db, autocommit=True) as conn:
        for statement in grants(group, database):
            if not statement.startswith("--"):
                conn.execute(statement)
        conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}' IN ROLE {group}")
    return dsn_for(pg_cluster, database, user, password)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    book = tmp_path / "tiny.yaml"
    book.write_text(textwrap.dedent(TINY))
    return book


def runs_dir(home: Any) -> Path:
    return home.state / "ditsops" / "runs"


def only_record(home: Any) -> Path:
    records = sorted(runs_dir(home).glob("*.jsonl"))
    assert len(records) == 1, records
    return records[0]


def stored(dsn: str, run_id: str) -> list[tuple[int, str, str]]:
    """(seq, hash, line) of a run's events in the store, in order."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT seq, hash, line FROM ditsops.events WHERE run = %s ORDER BY seq", (run_id,)
        ).fetchall()


def local_hashes(path: Path) -> list[str]:
    return [line_hash(line) for line in path.read_bytes().splitlines()]


def as_superuser_without_triggers(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """What only a superuser can do: switch the store's triggers off and change a row."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def rechain(lines: list[bytes], run_id: str) -> list[bytes]:
    """The forger's rewrite: every `prev` recomputed so the record's own chain holds again."""
    from ditsops.core.record import genesis_hash

    out, prev = [], genesis_hash(run_id)
    for raw in lines:
        entry = json.loads(raw)
        entry["prev"] = prev
        line = json.dumps(entry, ensure_ascii=False).encode("utf-8")
        out.append(line)
        prev = line_hash(line)
    return out


@pytest.fixture
def store_env(isolated_home: Any, engineer_dsn: str) -> Iterator[dict[str, str]]:
    yield {"DITSOPS_RECORD_STORE": engineer_dsn}
