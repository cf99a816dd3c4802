"""Fixtures shared by the whole suite; the logic they use lives in the product modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from ditsops.sandbox.pgcluster import PG_INSTALL_HINT, PgCluster, candidate_bin_dirs, create_cluster
from tests.helpers import require_binary


class IsolatedHome(NamedTuple):
    config: Path  # XDG_CONFIG_HOME
    state: Path  # XDG_STATE_HOME


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedHome:
    """XDG config and state in tmp dirs, and no DITSOPS_* or libpq PG* settings leaking in."""
    for name in list(os.environ):
        if name.startswith(("DITSOPS_", "PG")):
            monkeypatch.delenv(name)
    home = IsolatedHome(config=tmp_path / "config", state=tmp_path / "state")
    for directory in home:
        directory.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home.config))
    monkeypatch.setenv("XDG_STATE_HOME", str(home.state))
    return home


@pytest.fixture(scope="session")
def pg_bin_dir() -> Path:
    """The PostgreSQL server bin dir; skips locally (fails in CI) when it is not installed."""
    initdb = require_binary(
        "initdb", PG_INSTALL_HINT, search=[str(directory) for directory in candidate_bin_dirs()]
    )
    return initdb.parent


@pytest.fixture(scope="session")
def pg_cluster(pg_bin_dir: Path) -> Iterator[PgCluster]:
    """One throwaway PostgreSQL for the whole session (max_connections=100)."""
    cluster = create_cluster(max_connections=100, bin_dir=pg_bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> str:
    return pg_cluster.dsn


@pytest.fixture
def sessions(pg_dsn: str):
    """Real sessions in chosen states, tagged with one application_name; closed afterwards."""
    from tests.pgsessions import Sessions

    group = Sessions(pg_dsn)
    yield group
    group.close()
