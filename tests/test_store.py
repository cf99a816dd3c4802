"""The shared record store: `store init` (versioned, idempotent, the GRANTs), a run's events
reaching it as an engineer whose role may only INSERT and SELECT, the database refusing
changes and forged events, and the settings that point at it."""

from __future__ import annotations

import json

import psycopg
import pytest

from ditsops.core.record import genesis_hash, line_hash
from tests import store_fixtures
from tests.cli import run_cli
from tests.store_fixtures import create_database, dsn_for, local_hashes, only_record, stored

pytestmark = pytest.mark.services

# the shared fixtures, bound here by name so pytest finds them
engineer_dsn = store_fixtures.engineer_dsn
store_db = store_fixtures.store_db
store_env = store_fixtures.store_env
tiny = store_fixtures.tiny


# --- store init ---------------------------------------------------------------------------


def test_init_creates_the_schema_once_and_prints_grants_without_update_or_delete(pg_cluster, isolated_home):
    env = {"DITSOPS_RECORD_STORE": dsn_for(pg_cluster, create_database(pg_cluster, "init"))}
    first = run_cli("store", "init", env=env)
    assert first.returncode == 0, first.stderr
    assert "schema version 1 created" in first.stdout
    assert "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ditsops TO ditsops_engineers;" in first.stdout
    assert "UPDATE" not in first.stdout and "DELETE" not in first.stdout
    again = run_cli("store", "init", "--role", "oncall", env=env)
    assert again.returncode == 0, again.stderr
    assert "schema version 1 already in place; nothing changed" in again.stdout
    assert "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ditsops TO oncall;" in again.stdout
    data = json.loads(run_cli("store", "init", "-o", "json", env=env).stdout)
    assert data["version"] == 1 and data["created"] is False
    assert pg_cluster.password not in first.stdout + first.stderr + again.stdout


def test_a_role_name_that_is_sql_is_refused_before_anything_is_contacted(store_db, isolated_home):
    done = run_cli("store", "init", "--role", "x; DROP TABLE runs", env={"DITSOPS_RECORD_STORE": store_db})
    assert done.returncode == 2
    assert done.stderr.startswith("ditsops: --role 'x; DROP TABLE runs': a role name is lowercase")


def test_a_newer_schema_is_refused_by_init_and_status(pg_cluster, isolated_home):
    dsn = dsn_for(pg_cluster, create_database(pg_cluster, "newer"))
    env = {"DITSOPS_RECORD_STORE": dsn}
    assert run_cli("store", "init", env=env).returncode == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO ditsops.schema_version (version) VALUES (2)")
    done = run_cli("store", "init", env=env)
    assert done.returncode == 1
    assert "the record store's schema is version 2, newer than this ditsops knows (1)" in done.stderr
    status = run_cli("store", "status", env=env)
    assert status.returncode == 1
    assert "schema version 2 is newer than this ditsops knows (1)" in status.stdout


def test_without_a_store_configured_store_commands_say_how_to_set_one(isolated_home):
    done = run_cli("store", "status")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "ditsops: no record store configured"


def test_the_setting_is_listed_with_its_password_redacted(isolated_home):
    dsn = "postgresql://alice:s3cr3t-pw@store.example:5432/records"
    done = run_cli("config", "show", "-o", "json", env={"DITSOPS_RECORD_STORE": dsn})
    data = json.loads(done.stdout)
    assert data["settings"]["record_store"] == "postgresql://alice:***@store.example:5432/records"
    assert data["sources"]["record_store"] == "environment DITSOPS_RECORD_STORE"
    table = run_cli("config", "show", env={"DITSOPS_RECORD_STORE": dsn, "COLUMNS": "80"})
    assert "record_store" in table.stdout and "s3cr3t-pw" not in table.stdout


def test_a_profile_sets_the_store(isolated_home):
    config = isolated_home.config / "ditsops"
    config.mkdir()
    (config / "config.toml").write_text(
        '[profiles.team]\nrecord_store = "host=store.example dbname=records user=ana password=hunter22"\n'
    )
    data = json.loads(run_cli("--profile", "team", "config", "show", "-o", "json").stdout)
    assert data["settings"]["record_store"] == "host=store.example dbname=records user=ana password=***"


# --- a run with the engineers' role -------------------------------------------------------


def test_a_run_reaches_the_store_as_an_engineer_who_cannot_change_it(store_env, isolated_home, tiny, engineer_dsn):
    done = run_cli("runbook", str(tiny), "--non-interactive", env=store_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # a reachable store is silent
    path = only_record(isolated_home)
    rows = stored(engineer_dsn, path.stem)
    assert [seq for seq, _, _ in rows] == list(range(1, len(local_hashes(path)) + 1))
    assert [digest for _, digest, _ in rows] == local_hashes(path)  # the chain goes on in the store
    assert not list((path.parent / ".store-pending").iterdir())  # nothing waits
    with psycopg.connect(engineer_dsn, autocommit=True) as conn:
        run = conn.execute("SELECT runbook, who, started IS NOT NULL FROM ditsops.runs WHERE id = %s", (path.stem,))
        runbook, who, started = run.fetchone()
        assert runbook == "tiny" and "@" in who and started
        logins = conn.execute("SELECT DISTINCT stored_by FROM ditsops.events WHERE run = %s", (path.stem,))
        assert logins.fetchall() == [(engineer_dsn.split("//")[1].split(":")[0],)]  # the database says who
        for attack in (
            "UPDATE ditsops.events SET body = '{}' WHERE run = %s",
            "DELETE FROM ditsops.events WHERE run = %s",
            "UPDATE ditsops.runs SET who = 'mallory@evil' WHERE id = %s",
            "DELETE FROM ditsops.runs WHERE id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attack, (path.stem,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE ditsops.events")
    verify = run_cli("runbook", "verify", path.stem, env=store_env)
    assert verify.returncode == 0, verify.stdout
    assert f"anchored in the store: {len(rows)} events match" in verify.stdout


def test_even_the_owner_cannot_update_or_delete_with_the_triggers_on(store_db, store_env, isolated_home, tiny):
    assert run_cli("runbook", str(tiny), "--non-interactive", env=store_env).returncode == 0
    run_id = only_record(isolated_home).stem
    with psycopg.connect(store_db, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only: UPDATE on events refused"):
            conn.execute("UPDATE ditsops.events SET kind = 'x' WHERE run = %s", (run_id,))
        with pytest.raises(psycopg.errors.RaiseException, match="append-only: DELETE on runs refused"):
            conn.execute("DELETE FROM ditsops.runs WHERE id = %s", (run_id,))


def test_the_store_refuses_a_forged_event(store_env, isolated_home, tiny, engineer_dsn):
    assert run_cli("runbook", str(tiny), "--non-interactive", env=store_env).returncode == 0
    path = only_record(isolated_home)
    run_id, last = path.stem, len(local_hashes(path))
    head = local_hashes(path)[-1]
    insert = (
        "INSERT INTO ditsops.events (run, seq, time, kind, body, line, prev, hash)"
        " VALUES (%s, %s, now(), '', '{}', %s, %s, %s)"
    )

    def forge(seq: int, prev: str, line: str, digest: str | None = None) -> None:
        with psycopg.connect(engineer_dsn, autocommit=True) as conn:
            conn.execute(insert, (run_id, seq, line, prev, digest or line_hash(line.encode())))

    fake = json.dumps({"ts": "2026-12-07T03:00:00.000+00:00", "event": "decision", "approved": False, "prev": "x"})
    with pytest.raises(psycopg.errors.RaiseException, match=f"its prev is not the hash of event {last}"):
        forge(last + 1, "0" * 64, fake)  # a decline slipped in after the end
    with pytest.raises(psycopg.errors.RaiseException, match=f"the store holds {last} events of it"):
        forge(last + 3, head, fake)  # a gap
    with pytest.raises(psycopg.errors.RaiseException, match="its hash is not the SHA-256 of its line"):
        forge(last + 1, head, fake, "f" * 64)
    with pytest.raises(psycopg.errors.UniqueViolation):
        forge(2, line_hash(path.read_bytes().splitlines()[0]), fake)  # a line replaced in the middle
    other = "20261207T000000Z-forged-00000000"
    with psycopg.connect(engineer_dsn, autocommit=True) as conn:  # a whole forged run must start at its genesis
        conn.execute(
            "INSERT INTO ditsops.runs (id, runbook, who, started, stored_by)"
            " VALUES (%s, 'x', 'ana@laptop', now(), 'ana')",
            (other,),
        )
        stamped = conn.execute("SELECT stored_by FROM ditsops.runs WHERE id = %s", (other,)).fetchone()[0]
        assert stamped == engineer_dsn.split("//")[1].split(":")[0]  # claiming another login does not stick
    with pytest.raises(psycopg.errors.RaiseException, match="its prev is not the hash of event 0"):
        forge_other = fake
        with psycopg.connect(engineer_dsn, autocommit=True) as conn:
            conn.execute(insert, (other, 1, forge_other, "0" * 64, line_hash(forge_other.encode())))
    assert genesis_hash(other) != "0" * 64
    assert len(stored(engineer_dsn, run_id)) == last  # nothing of it was kept


def test_status_counts_what_waits(store_env, isolated_home, tiny):
    assert run_cli("runbook", str(tiny), "--non-interactive", env=store_env).returncode == 0
    done = run_cli("store", "status", env={**store_env, "COLUMNS": "80"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(reachable)" in done.stdout and "schema version: 1" in done.stdout
    assert "waiting to be synced: 0 local runs" in done.stdout
    data = json.loads(run_cli("store", "status", "-o", "json", env=store_env).stdout)
    assert data["reachable"] is True and data["schema_version"] == 1 and data["waiting"] == 0
    assert data["runs"] >= 1 and data["events"] >= 5


def test_lines_json_cannot_hold_are_stored_and_still_verify(store_env, isolated_home):
    """Prometheus answers NaN and +Inf; text from outside may hold NUL: the record writes
    them (Python's JSON), the store must keep the line whole and its body queryable."""
    from ditsops.core.record import RunRecord

    record = RunRecord.create("odd", frozenset(), isolated_home.state / "ditsops" / "runs")
    record.write("run-start", runbook="odd", by="ana@laptop")
    record.write("step", step="ratio", value=float("nan"), peak=float("inf"), summary="a\x00b \\u0000 \u202e")
    record.write("run-end", exit_code=0, reason="ok")
    done = run_cli("store", "sync", "--all", env=store_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "record store: 1 run synced (3 events it did not have)"
    with psycopg.connect(store_env["DITSOPS_RECORD_STORE"]) as conn:
        value, kind = conn.execute(
            "SELECT body ->> 'value', kind FROM ditsops.events WHERE run = %s AND seq = 2", (record.run_id,)
        ).fetchone()
    assert (value, kind) == ("NaN", "step")
    verify = run_cli("runbook", "verify", record.run_id, env=store_env)
    assert verify.returncode == 0, verify.stdout
    assert "anchored in the store: 3 events match" in verify.stdout


def test_a_run_id_taken_in_the_store_by_someone_else_is_refused_not_merged(store_env, isolated_home, tiny):
    """Mallory, an engineer too, puts a line of her own under a run's id before its lines
    arrive (the run was recorded while the store was down): the run's lines are refused,
    said, and verify names the line where the record and the store part."""
    from ditsops.sandbox.ports import free_port

    closed = {"DITSOPS_RECORD_STORE": f"postgresql://ana:pw@127.0.0.1:{free_port()}/x"}
    assert run_cli("runbook", str(tiny), "--non-interactive", env=closed).returncode == 0
    run_id = only_record(isolated_home).stem
    forged = json.dumps({"ts": "2026-12-07T03:00:00.000+00:00", "event": "run-start", "by": "mallory@evil"})
    with psycopg.connect(store_env["DITSOPS_RECORD_STORE"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ditsops.runs (id, runbook, who, started) VALUES (%s, 'tiny', 'mallory@evil', now())", (run_id,)
        )
        conn.execute(
            "INSERT INTO ditsops.events (run, seq, time, kind, body, line, prev, hash)"
            " VALUES (%s, 1, now(), '', '{}', %s, %s, %s)",
            (run_id, forged, genesis_hash(run_id), line_hash(forged.encode())),
        )
    done = run_cli("store", "sync", "--all", env=store_env)  # it was recorded for another store: --all
    assert done.returncode == 1
    assert f"refused run {run_id}: the record store refused: event 2 of run {run_id} refused" in done.stderr
    verify = run_cli("runbook", "verify", run_id, env=store_env)
    assert verify.returncode == 1
    assert "line 1 differs from the store's event 1: the record was rewritten, or the store holds another" in (
        verify.stdout
    )
