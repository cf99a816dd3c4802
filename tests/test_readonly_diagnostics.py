"""Diagnostics cannot change anything: hostile own runbooks against the real PostgreSQL.

Each attack is written as the attack (an engineer's own runbook in
$XDG_CONFIG_HOME/ditsops/runbooks, run with --non-interactive and no terminal) and checked
afterwards with psycopg: no row changed, no table dropped, no session killed. Then the
same SQL handed straight to the client and to the step kind (past the loader), and to
the protocol layer (past the guard): refused, or a server error, never a second statement.
Last, an own runbook shadowing a shipped one says so in list, show and the run header.
"""

from __future__ import annotations

import json
import textwrap
import uuid

import psycopg
import pytest

from ditsops.base.errors import TargetError
from ditsops.clients.postgres import UnsafeDiagnostic
from ditsops.core import connect
from ditsops.core.catalog import shipped_dir
from ditsops.core.config import Settings
from tests.cli import run_cli

HOSTILE = """\
name: {name}
title: Looks harmless
steps:
  - id: look
    title: Just looking
    sql: |
{sql}
"""
SQL_LINE = 7  # the line of the first line of the query in HOSTILE


@pytest.fixture
def env(pg_dsn, diag_dsn, isolated_home):
    return {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}


@pytest.fixture
def victim(pg_dsn):
    """A table with rows 1, 2, 3 that the attacks try to change or drop."""
    name = f"victim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY)")
        conn.execute(f"INSERT INTO {name} VALUES (1), (2), (3)")
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def rows_of(dsn: str, table: str) -> list[int] | None:
    """The ids in the table, or None when it no longer exists."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
        if not exists:
            return None
        return [r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()]


def own_runbook(isolated_home, sql: str, name: str = "hostile"):
    directory = isolated_home.config / "ditsops" / "runbooks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(HOSTILE.format(name=name, sql=textwrap.indent(sql.strip(), " " * 6)))
    return path


def run_hostile(env, isolated_home, sql: str):
    path = own_runbook(isolated_home, sql)
    return path, run_cli("runbook", "hostile", "--non-interactive", env=env)


# --- the attacks through the CLI -------------------------------------------------------------------


def test_set_transaction_read_write_then_delete_deletes_nothing(env, isolated_home, pg_dsn, victim):
    path, done = run_hostile(env, isolated_home, f"SET TRANSACTION READ WRITE; DELETE FROM {victim} WHERE id = 1")
    assert done.returncode != 0, done.stdout + done.stderr
    assert rows_of(pg_dsn, victim) == [1, 2, 3]
    assert f"{path}:{SQL_LINE}:" in done.stderr and "SET statement" in done.stderr


def test_commit_then_drop_table_drops_nothing(env, isolated_home, pg_dsn, victim):
    path, done = run_hostile(env, isolated_home, f"COMMIT; DROP TABLE {victim}")
    assert done.returncode != 0, done.stdout + done.stderr
    assert rows_of(pg_dsn, victim) == [1, 2, 3]
    assert f"{path}:{SQL_LINE}:" in done.stderr


def test_a_second_statement_after_a_select_is_not_run(env, isolated_home, pg_dsn, victim):
    _, done = run_hostile(env, isolated_home, f"SELECT 1 AS one;\nDELETE FROM {victim}")
    assert done.returncode != 0
    assert rows_of(pg_dsn, victim) == [1, 2, 3]
    assert "more than one statement" in done.stderr


def test_data_modifying_with_changes_nothing(env, isolated_home, pg_dsn, victim):
    _, done = run_hostile(
        env, isolated_home, f"WITH gone AS (DELETE FROM {victim} RETURNING *) SELECT count(*) FROM gone"
    )
    assert done.returncode != 0
    assert rows_of(pg_dsn, victim) == [1, 2, 3]


@pytest.mark.parametrize(
    "call",
    [
        "pg_terminate_backend(pid)",
        'pg_catalog."pg_terminate_backend"(pid)',
        "PG_CATALOG.PG_TERMINATE_BACKEND (pid)",
        "pg_terminate_backend/* not a call, surely */(pid)",
        "pg_cancel_backend(pid)",
    ],
)
def test_terminate_in_a_diagnostic_kills_no_session(env, isolated_home, sessions, call):
    victims = {sessions.idle().info.backend_pid for _ in range(2)}
    sql = f"SELECT {call} AS gone FROM pg_stat_activity\nWHERE application_name = '{sessions.app}'"
    path, done = run_hostile(env, isolated_home, sql)
    assert done.returncode != 0, done.stdout + done.stderr
    assert victims <= sessions.alive()
    name = "pg_cancel_backend" if "cancel" in call else "pg_terminate_backend"
    assert f"{path}:{SQL_LINE}:" in done.stderr and f"calls {name}()" in done.stderr


def test_a_sql_step_cannot_name_the_action_sql(env, isolated_home, sessions):
    victims = {sessions.idle().info.backend_pid for _ in range(2)}
    path = isolated_home.config / "ditsops" / "runbooks" / "hostile.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent(
            """\
            name: hostile
            title: Looks harmless
            steps:
              - id: look
                title: Just looking
                sql: signal_backends
                args: {action: terminate, blocking: false, pids: [1], starts: [2020-01-01]}
            """
        )
    )
    done = run_cli("runbook", "hostile", "--non-interactive", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no SQL diagnostic named 'signal_backends'" in done.stderr
    assert victims <= sessions.alive()


def test_lint_names_file_line_and_the_function(env, isolated_home, tmp_path):
    own_runbook(isolated_home, "SELECT pid,\n       pg_reload_conf()\nFROM pg_stat_activity", name="reload")
    done = run_cli("runbook", "lint", env=env)
    path = isolated_home.config / "ditsops" / "runbooks" / "reload.yaml"
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}:{SQL_LINE + 1}: step 'look': not a read-only diagnostic: calls pg_reload_conf()" in done.stderr


def test_lint_of_a_directory_names_file_line_and_the_statement(env, tmp_path):
    path = tmp_path / "copy.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: copy
            title: Copy
            steps:
              - id: out
                title: Out
                sql: COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned'
            """
        )
    )
    done = run_cli("runbook", "lint", str(tmp_path), env=env)
    assert done.returncode == 2
    assert f"{path}:6: step 'out': not a read-only diagnostic: COPY" in done.stderr


def test_shipped_runbooks_still_lint(env):
    done = run_cli("runbook", "lint", env=env)
    assert done.returncode == 0, done.stdout + done.stderr


# --- past the loader: the client and the step kind refuse again, nothing sent ----------------------


@pytest.fixture
def client(pg_dsn):
    connected = connect.postgres(Settings(dsn=pg_dsn))
    yield connected
    connected.close()


@pytest.fixture
def diagnostics(pg_dsn, diag_dsn):
    """The session inline SQL runs on: the diagnostics role."""
    connected = connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    yield connected
    connected.close()


def test_the_client_refuses_before_sending(diagnostics, sessions, pg_dsn, victim):
    client = diagnostics
    victims = {sessions.idle().info.backend_pid for _ in range(2)}
    with pytest.raises(UnsafeDiagnostic, match="nothing was sent: line 1: calls pg_terminate_backend"):
        client.diagnose(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %(app)s",
            {"app": sessions.app},
        )
    with pytest.raises(UnsafeDiagnostic, match="more than one statement"):
        client.diagnose(f"SELECT 1; DROP TABLE {victim}")
    assert victims <= sessions.alive()
    assert rows_of(pg_dsn, victim) == [1, 2, 3]
    assert client.diagnose("SELECT 1 AS one").rows == [(1,)]  # and the session is still usable


def test_the_step_kind_refuses_sql_that_bypassed_the_loader(pg_dsn, diag_dsn, sessions):
    from ditsops.core.model import Step
    from ditsops.core.steps.base import RunContext
    from ditsops.core.steps.sql import SqlKind, SqlSpec

    victims = {sessions.idle().info.backend_pid for _ in range(2)}
    query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %(app)s"
    spec = SqlSpec(query, query, ("app",), {}, None, None, 20)
    step = Step(id="look", title="Just looking", kind="sql", spec=spec)
    ctx = RunContext(settings=Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn), params={"app": sessions.app})
    try:
        with pytest.raises(UnsafeDiagnostic, match="nothing was sent"):
            SqlKind().run(step, ctx)
    finally:
        ctx.close()
    assert victims <= sessions.alive()


def test_the_protocol_never_runs_a_second_statement(client, pg_dsn, victim):
    """Past the guard too: every statement is prepared (extended protocol), so a `;` is a server error."""
    for query in (
        f"SELECT 1; DROP TABLE {victim}",
        f"SET TRANSACTION READ WRITE; DELETE FROM {victim}",
        f"COMMIT; DROP TABLE {victim}",
    ):
        for read_only in (True, False):
            with pytest.raises(TargetError, match="cannot insert multiple commands into a prepared statement"):
                client._execute(query, None, read_only=read_only)
    assert rows_of(pg_dsn, victim) == [1, 2, 3]


def test_a_diagnostic_transaction_is_read_only_and_never_committed(client, pg_dsn, victim):
    with pytest.raises(TargetError, match="read-only transaction"):
        client._execute(
            f"WITH gone AS (DELETE FROM public.{victim} RETURNING *) SELECT count(*) FROM gone", None, read_only=True
        )
    assert rows_of(pg_dsn, victim) == [1, 2, 3]
    settings = client._execute(
        "SELECT current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS st,"
        " current_setting('lock_timeout') AS lt, current_setting('standard_conforming_strings') AS scs",
        None,
        read_only=True,
    ).dicts()[0]
    assert settings["ro"] == "on" and settings["scs"] == "on"
    assert settings["st"] != "0" and settings["lt"] != "0"


def test_named_diagnostics_and_percent_signs_still_work(env, isolated_home, sessions):
    sessions.idle_in_transaction()
    own_runbook(
        isolated_home,
        f"SELECT count(*) AS n, 7 % 4 AS rest FROM pg_stat_activity\nWHERE application_name LIKE '{sessions.app[:5]}%'",
    )
    done = run_cli("runbook", "hostile", "--non-interactive", "--output", "json", env=env)
    data = json.loads(done.stdout)
    step = data["steps"][0]
    assert step["status"] != "error", step
    assert step["result"]["columns"] == ["n", "rest"] and step["result"]["rows"][0][1] == 3
    activity = run_cli("db", "activity", "--app", sessions.app, "--output", "json", env=env)
    assert activity.returncode == 0, activity.stderr
    assert json.loads(activity.stdout)["counts"]["idle in transaction"] == 1


# --- shadowing is visible -----------------------------------------------------------------------------

OWN_HIGH_ERROR_RATE = """\
name: high-error-rate
title: My own high error rate
steps:
  - id: up
    title: The database answers
    sql: SELECT 1 AS up
"""


@pytest.fixture
def shadowing(isolated_home):
    directory = isolated_home.config / "ditsops" / "runbooks"
    directory.mkdir(parents=True)
    path = directory / "high-error-rate.yaml"
    path.write_text(OWN_HIGH_ERROR_RATE)
    return path


def test_list_says_which_own_runbook_shadows_a_shipped_one(env, shadowing):
    done = run_cli("runbook", "list", env=env)
    assert done.returncode == 0, done.stderr
    assert f"high-error-rate: {shadowing} (shadows the shipped runbook)" in done.stdout
    assert done.stdout.count("shadows the shipped runbook") == 1
    listed = {e["name"]: e for e in json.loads(run_cli("runbook", "list", "--output", "json", env=env).stdout)}
    assert listed["high-error-rate"]["path"] == str(shadowing)
    assert listed["high-error-rate"]["shadows"] == str(shipped_dir() / "high-error-rate.yaml")
    assert listed["service-down"]["shadows"] is None


def test_show_says_which_file_runs(env, shadowing):
    done = run_cli("runbook", "show", "high-error-rate", env=env)
    assert done.returncode == 0, done.stderr
    assert f"file         {shadowing} (shadows the shipped runbook)" in done.stdout
    plain = run_cli("runbook", "show", "service-down", env=env)
    assert "shadows" not in plain.stdout


def test_run_header_says_which_file_runs(env, shadowing):
    done = run_cli("runbook", "high-error-rate", "--non-interactive", env=env)
    assert f"file {shadowing} (shadows the shipped runbook)" in done.stdout, done.stdout + done.stderr
    assert "My own high error rate" in done.stdout


def test_an_own_runbook_with_its_own_name_shadows_nothing(env, isolated_home):
    own_runbook(isolated_home, "SELECT 1 AS one", name="mine")
    done = run_cli("runbook", "mine", "--non-interactive", env=env)
    assert "shadows" not in done.stdout
    assert "shadows" not in run_cli("runbook", "list", env=env).stdout
