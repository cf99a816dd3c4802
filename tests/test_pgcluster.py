"""The throwaway PostgreSQL cluster: password-protected TCP, clear errors, no leftovers."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from ditsops.base.errors import DitsopsError
from ditsops.sandbox import pgcluster
from ditsops.sandbox.pgcluster import PgCluster, create_cluster
from ditsops.sandbox.ports import free_port
from ditsops.sandbox.state import process_alive


def test_connects_over_tcp_with_the_password(pg_cluster: PgCluster, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, connect_timeout=5) as conn:
        user, address, max_connections, reserved = conn.execute(
            "SELECT current_user, host(inet_server_addr()), current_setting('max_connections'),"
            " current_setting('superuser_reserved_connections')"
        ).fetchone()
    assert (user, address, max_connections, reserved) == ("postgres", "127.0.0.1", "100", "3")
    assert pg_dsn == (f"postgresql://postgres:{pg_cluster.password}@127.0.0.1:{pg_cluster.port}/postgres")


@pytest.mark.parametrize(
    ("password", "expected"),
    [("wrong-password", "password authentication failed"), ("", "no password supplied")],
)
def test_tcp_login_without_the_right_password_is_refused(pg_cluster: PgCluster, password: str, expected: str) -> None:
    with pytest.raises(psycopg.OperationalError, match=expected):
        psycopg.connect(
            host=pg_cluster.host,
            port=pg_cluster.port,
            user="postgres",
            password=password,
            dbname="postgres",
            connect_timeout=5,
        )


def test_masked_dsn_and_repr_hide_the_password(pg_cluster: PgCluster) -> None:
    assert pg_cluster.masked_dsn == f"postgresql://postgres:***@127.0.0.1:{pg_cluster.port}/postgres"
    assert pg_cluster.password not in repr(pg_cluster)


def test_record_round_trips(pg_cluster: PgCluster) -> None:
    restored = PgCluster.from_dict(pg_cluster.to_dict())
    assert restored == pg_cluster
    assert restored.is_running() and restored.pid() == pg_cluster.pid()


def test_destroy_leaves_no_process_and_no_directory(pg_bin_dir: Path) -> None:
    cluster = create_cluster(max_connections=20, bin_dir=pg_bin_dir)
    cluster.start()
    pid = cluster.pid()
    client = psycopg.connect(cluster.dsn, connect_timeout=5, autocommit=True)
    try:
        cluster.destroy()  # with a client still connected: fast shutdown ends the session
        with pytest.raises(psycopg.OperationalError):
            client.execute("SELECT 1")
    finally:
        client.close()
    assert pid is not None and not process_alive(pid)
    assert not cluster.root_dir.exists()
    with pytest.raises(OSError):
        socket.create_connection((cluster.host, cluster.port), timeout=1).close()
    cluster.destroy()  # a second destroy is harmless


def test_start_failure_is_one_line_with_the_server_log(pg_bin_dir: Path) -> None:
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        cluster = create_cluster(port=port, max_connections=20, bin_dir=pg_bin_dir)
        try:
            with pytest.raises(DitsopsError) as caught:
                cluster.start(timeout=10)
        finally:
            cluster.destroy()
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith("pg_ctl start failed")
    assert "Address already in use" in message
    assert not cluster.root_dir.exists()


def test_missing_server_binaries_name_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgcluster, "candidate_bin_dirs", lambda: [])
    with pytest.raises(DitsopsError, match="apt-get install postgresql"):
        pgcluster.find_pg_bin()
