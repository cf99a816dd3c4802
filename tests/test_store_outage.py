"""A store that is down never slows or stops a run: the run completes from its local
record, says so once, and its events reach the store at the next command that can reach
it, each exactly once. The store here is the sandbox's own setup (a `ditsops_store`
database, a recorder role with INSERT and SELECT only) on a small cluster of its own, so
it can be stopped in the middle of a walk and started again."""

from __future__ import annotations

import io
import json
import os
import secrets
import sys
from collections.abc import Iterator

import pexpect
import pytest

from ditsops.sandbox.pgcluster import PgCluster, create_cluster
from ditsops.sandbox.recordstore import STORE_DATABASE, create_record_store, record_store_dsn
from tests import store_fixtures
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.store_fixtures import create_database, dsn_for, local_hashes, only_record, runs_dir, stored

pytestmark = pytest.mark.services

tiny = store_fixtures.tiny


@pytest.fixture(scope="module")
def own_store(pg_bin_dir) -> Iterator[tuple[PgCluster, str]]:
    """(the cluster, the recorder's record_store DSN), set up as `sandbox up` sets it up."""
    cluster = create_cluster(max_connections=20, bin_dir=pg_bin_dir)
    try:
        cluster.start()
        password = secrets.token_urlsafe(16)
        create_record_store(cluster, password)
        dsn = record_store_dsn({"host": cluster.host, "port": cluster.port, "store_password": password})
        assert dsn is not None
        yield cluster, dsn
    finally:
        cluster.destroy()


def pending(home) -> list[str]:
    folder = runs_dir(home) / ".store-pending"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_an_unreachable_store_leaves_the_run_untouched_and_catches_up_later(own_store, isolated_home, tiny):
    cluster, dsn = own_store
    env = {"DITSOPS_RECORD_STORE": dsn}
    cluster.stop()
    try:
        done = run_cli("runbook", str(tiny), "--non-interactive", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stderr.count("record store unreachable at ditsops_recorder@127.0.0.1") == 1, done.stderr
        assert "reaches the store at the next command that can" in done.stderr
        password = dsn.split(":")[2].split("@")[0]
        assert password not in done.stdout + done.stderr
        path = only_record(isolated_home)
        assert run_cli("runbook", "verify", path.stem).returncode == 0  # the local record is whole
        assert pending(isolated_home) == [path.stem]

        still_down = run_cli("runbook", "list", env=env)
        assert still_down.returncode == 0  # a store down changes no exit code
        assert "1 run(s) wait for it" in still_down.stderr
    finally:
        cluster.start()

    back = run_cli("config", "show", env=env)  # one ordinary command
    assert back.returncode == 0, back.stderr
    assert "record store: 1 run synced (5 events it did not have)" in back.stderr
    assert [digest for _, digest, _ in stored(dsn, path.stem)] == local_hashes(path)
    assert pending(isolated_home) == []

    again = run_cli("store", "sync", "--all", env=env)
    assert again.returncode == 0
    assert again.stdout.strip() == "record store: 0 runs synced (0 events it did not have)"
    assert len(stored(dsn, path.stem)) == 5  # nothing doubled


def test_a_run_waits_for_its_own_store_not_the_next_profiles(own_store, isolated_home, tiny):
    """Recorded for one store while it was down, a run is not sent to another store that a
    later command happens to use."""
    cluster, dsn = own_store
    other = dsn_for(cluster, create_database(cluster, "other"))
    assert run_cli("store", "init", env={"DITSOPS_RECORD_STORE": other}).returncode == 0
    cluster.stop()
    try:
        assert run_cli("runbook", str(tiny), "--non-interactive", env={"DITSOPS_RECORD_STORE": dsn}).returncode == 0
    finally:
        cluster.start()
    run_id = only_record(isolated_home).stem
    elsewhere = run_cli("runbook", "list", env={"DITSOPS_RECORD_STORE": other})
    assert elsewhere.returncode == 0 and elsewhere.stderr == ""
    assert stored(other, run_id) == [] and pending(isolated_home) == [run_id]
    status = run_cli("store", "status", "-o", "json", env={"DITSOPS_RECORD_STORE": dsn})
    assert json.loads(status.stdout)["waiting"] == 1  # counted, then sent once the command is done
    assert "record store: 1 run synced (5 events it did not have)" in status.stderr
    assert len(stored(dsn, run_id)) == 5 and pending(isolated_home) == []


def test_a_store_stopped_during_a_walk(own_store, isolated_home, tiny):
    cluster, dsn = own_store
    owner = dsn_for(cluster, STORE_DATABASE)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "runbook", str(tiny)],
        env={**os.environ, "DITSOPS_RECORD_STORE": dsn, "COLUMNS": "200"},
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    screen = io.StringIO()
    child.logfile_read = screen
    try:
        child.expect(r"Done\?")
        path = wait_until(lambda: next(iter(runs_dir(isolated_home).glob("*.jsonl")), None), what="the record")
        wait_until(lambda: len(stored(owner, path.stem)) >= 1, what="the run-start line in the store")
        cluster.stop()
        for _ in range(3):
            child.sendline("y")
            child.expect([r"Done\?", pexpect.EOF])
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        cluster.start()
    assert child.exitstatus == 0, screen.getvalue()
    assert screen.getvalue().count("lost the record store at ditsops_recorder@") == 1, screen.getvalue()
    assert "the run goes on, recorded locally" in screen.getvalue()
    lines = path.read_bytes().splitlines()
    assert b'"event": "run-end"' in lines[-1]  # the walk completed, its record whole
    assert run_cli("runbook", "verify", path.stem).returncode == 0
    assert pending(isolated_home) == [path.stem]

    back = run_cli("runbook", "list", env={"DITSOPS_RECORD_STORE": dsn})  # one ordinary command
    assert back.returncode == 0
    assert "record store: 1 run synced" in back.stderr
    rows = stored(owner, path.stem)
    assert [seq for seq, _, _ in rows] == list(range(1, len(lines) + 1))  # every event, exactly once
    assert [digest for _, digest, _ in rows] == local_hashes(path)
    verify = run_cli("runbook", "verify", path.stem, env={"DITSOPS_RECORD_STORE": dsn})
    assert f"anchored in the store: {len(lines)} events match" in verify.stdout


def test_the_sandbox_profile_points_at_its_store_as_the_recorder(tmp_path):
    from ditsops.sandbox import components

    cluster = PgCluster(
        data_dir=tmp_path / "data", port=5999, password="su-pw", socket_dir=tmp_path / "s", bin_dir=tmp_path
    )
    component = components._postgres_component(cluster, pid=None, app_password="app-pw", store_password="st/pw")
    assert component.profile["record_store"] == f"postgresql://ditsops_recorder:st%2Fpw@127.0.0.1:5999/{STORE_DATABASE}"
    assert component.profile["dsn"] == cluster.dsn
    bare = components._postgres_component(cluster, pid=None, app_password=None)
    assert "record_store" not in bare.profile  # while the cluster is being made: no store yet
