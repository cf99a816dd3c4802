"""Diagnostics cannot change anything by privilege, not by parsing: issue 18, item 1.

Each attack is an engineer's own runbook run with --non-interactive against the real
PostgreSQL, built from database objects someone created beforehand (a function wrapping
pg_terminate_backend, a view calling it) that no lexical check can see. With only the
superuser DSN the inline SQL is refused (one line saying how to set up the diagnostics
role); with diagnostics_dsn it runs as a role that can do nothing: no session
terminated, no file read or written, no advisory lock left, one line each.

The SQL the guard now reads (a CR-ended comment, `${{ x }}$`, SQL in a string,
EXPLAIN ("analyze"), pg_ls_waldir) is refused at lint, and sent anyway past the guard on
the diagnostics role it still does nothing.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ditsops.base.errors import ConfigError, TargetError
from ditsops.clients import postgres as pgclient
from ditsops.clients.pgrole import judge
from ditsops.core import connect
from ditsops.core.config import Settings
from tests.cli import run_cli

OWN = """\
name: {name}
title: Looks harmless
params:
  x: {{type: string, default: "1"}}
steps:
  - id: look
    title: Just looking
    sql: "{sql}"
"""


def own_runbook(isolated_home, sql: str) -> tuple[str, Path]:
    name = f"own-{uuid.uuid4().hex[:6]}"
    directory = isolated_home.config / "ditsops" / "runbooks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    escaped = sql.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    path.write_text(OWN.format(name=name, sql=escaped))
    return name, path


@pytest.fixture
def killer(pg_dsn):
    """A function kill_<id>(int) wrapping pg_terminate_backend, and a view v_killer_<id>
    calling it on every session of the application `app_<id>`: created by the superuser."""
    tag = uuid.uuid4().hex[:8]
    names = {"kill": f"kill_{tag}", "view": f"v_killer_{tag}", "app": f"app_{tag}", "lock": f"grab_{tag}"}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE FUNCTION {names['kill']}(p int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_terminate_backend(p)'"
        )
        conn.execute(
            f"CREATE VIEW {names['view']} AS SELECT {names['kill']}(pid) AS gone FROM pg_stat_activity "
            f"WHERE application_name = '{names['app']}'"
        )
        conn.execute(f"CREATE FUNCTION {names['lock']}() RETURNS void LANGUAGE sql AS 'SELECT pg_advisory_lock(4242)'")
        conn.execute(f"GRANT SELECT ON {names['view']} TO PUBLIC")
    yield names
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP VIEW {names['view']}")
        conn.execute(f"DROP FUNCTION {names['kill']}(int)")
        conn.execute(f"DROP FUNCTION {names['lock']}()")


@pytest.fixture
def victims(pg_dsn, killer):
    """Two idle sessions of the application the killer view selects."""
    conns = [psycopg.connect(pg_dsn, application_name=killer["app"], autocommit=True) for _ in range(2)]
    yield {c.info.backend_pid for c in conns}
    for conn in conns:
        conn.close()


def alive(pg_dsn: str, pids: set[int]) -> set[int]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]).fetchall()
    return {r[0] for r in rows}


def advisory_locks(pg_dsn: str) -> list[tuple[int, int]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        return conn.execute("SELECT pid, objid::int FROM pg_locks WHERE locktype = 'advisory'").fetchall()


def attacks(names: dict[str, str]) -> dict[str, str]:
    return {
        "function": f"SELECT {names['kill']}(pid) FROM pg_stat_activity WHERE application_name = '{names['app']}'",
        "view": f"SELECT * FROM {names['view']}",
        "advisory lock": f"SELECT {names['lock']}()",
    }


# --- only the superuser DSN: SQL from outside ditsops is refused, saying how to set up the role -------


@pytest.mark.parametrize("attack", ["function", "view", "advisory lock"])
def test_with_only_a_superuser_dsn_an_own_runbooks_sql_is_refused(isolated_home, pg_dsn, killer, victims, attack):
    name, path = own_runbook(isolated_home, attacks(killer)[attack])
    assert run_cli("runbook", "lint", str(path)).returncode == 0  # the guard cannot see into objects
    done = run_cli("runbook", name, "--non-interactive", env={"DITSOPS_DSN": pg_dsn})
    assert alive(pg_dsn, victims) == victims
    assert not [lock for lock in advisory_locks(pg_dsn) if lock[1] == 4242]
    assert done.returncode == 1, done.stdout + done.stderr  # the step failed: exit 1, never a success
    assert "Traceback" not in done.stderr
    step = next(line for line in done.stdout.splitlines() if "refused to send SQL" in line)
    assert "is a superuser" in step and "diagnostics_dsn" in step
    assert "nothing was sent" in step


def test_refused_with_one_line_naming_the_setting_in_json(isolated_home, pg_dsn, killer, victims):
    import json

    name, _ = own_runbook(isolated_home, attacks(killer)["view"])
    done = run_cli("runbook", name, "--non-interactive", "--output", "json", env={"DITSOPS_DSN": pg_dsn})
    assert alive(pg_dsn, victims) == victims
    start = 0 if done.stdout.startswith("{") else done.stdout.index("\n{") + 1
    document = json.loads(done.stdout[start:])
    assert document["exit_code"] == 1
    (look,) = document["steps"]
    assert look["status"] == "error" and "\n" not in look["summary"]
    assert "DITSOPS_DIAGNOSTICS_DSN" in look["summary"] and "The diagnostics role" in look["summary"]


# --- with diagnostics_dsn: the same SQL runs as a role that can do nothing -----------------------------


@pytest.mark.parametrize("attack", ["function", "view"])
def test_on_the_diagnostics_role_an_existing_killer_terminates_nothing(
    isolated_home, pg_dsn, diag_dsn, killer, victims, attack
):
    name, _ = own_runbook(isolated_home, attacks(killer)[attack])
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}
    done = run_cli("runbook", name, "--non-interactive", env=env)
    assert alive(pg_dsn, victims) == victims
    assert done.returncode == 1, done.stdout + done.stderr  # the step failed: an error
    assert "Traceback" not in done.stderr
    failed = [line for line in done.stdout.splitlines() if "PostgreSQL rejected the query" in line]
    assert len(failed) == 1 and "must be a superuser to terminate superuser process" in failed[0]


def test_on_the_diagnostics_role_an_advisory_lock_taken_inside_is_released(isolated_home, pg_dsn, diag_dsn, killer):
    name, _ = own_runbook(isolated_home, attacks(killer)["advisory lock"])
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}
    done = run_cli("runbook", name, "--non-interactive", env=env)
    assert "Traceback" not in done.stderr
    assert not [lock for lock in advisory_locks(pg_dsn) if lock[1] == 4242]


def test_the_client_releases_a_lock_taken_by_a_function_while_the_session_lives(pg_dsn, diag_dsn, killer):
    client = connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    try:
        client.diagnose(f"SELECT {killer['lock']}()")
        assert not [lock for lock in advisory_locks(pg_dsn) if lock[0] == client.backend_pid]
        assert client.diagnose("SELECT 1 AS one").rows == [(1,)]  # the session is still usable
    finally:
        client.close()


# --- what the guard now reads is refused at lint; past the guard, the role still does nothing -----------

GUARDED = {
    "CR-ended comment": "SELECT 1 AS x -- just a comment\r, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = '{app}'",
    "dollar quote from a placeholder": "SELECT ${{{{ x }}}}$ $$, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = '{app}' -- $$",
    "SQL in a string": "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery "
    "FROM pg_stat_activity WHERE pg_terminate_backend(pid) AND application_name = ''{app}''')",
    "EXPLAIN (analyze)": 'EXPLAIN ("analyze") SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
    "pg_ls_waldir": "SELECT * FROM pg_ls_waldir()",
}


@pytest.mark.parametrize("attack", sorted(GUARDED))
def test_lint_refuses_what_the_guard_can_read(isolated_home, pg_dsn, killer, victims, attack):
    name, path = own_runbook(isolated_home, GUARDED[attack].format(app=killer["app"]))
    linted = run_cli("runbook", "lint", str(path))
    assert linted.returncode == 2, linted.stdout + linted.stderr
    assert str(path) in linted.stderr
    done = run_cli("runbook", name, "--non-interactive", env={"DITSOPS_DSN": pg_dsn})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert alive(pg_dsn, victims) == victims


PAST_THE_GUARD = {
    "a CR-ended comment hiding a terminate": "SELECT 1 AS x -- c\r, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = '{app}'",
    "ts_rewrite running SQL in a string": "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery "
    "FROM pg_stat_activity WHERE pg_terminate_backend(pid) AND application_name = ''{app}''')",
    "EXPLAIN (analyze) executing a terminate": 'EXPLAIN ("analyze") SELECT pg_terminate_backend(pid) '
    "FROM pg_stat_activity WHERE application_name = '{app}'",
    "reading a server file": "SELECT pg_read_file('/etc/hostname')",
    "reloading the configuration": "SELECT pg_reload_conf()",
    "a large object from a server file": "SELECT lo_import('/etc/hostname')",
}


@pytest.mark.parametrize("attack", sorted(PAST_THE_GUARD))
def test_past_the_guard_the_diagnostics_role_still_does_nothing(pg_dsn, diag_dsn, killer, victims, monkeypatch, attack):
    monkeypatch.setattr(pgclient, "guard", lambda query: None)  # as if the guard had missed it
    client = connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    try:
        with pytest.raises(TargetError, match="PostgreSQL rejected the query: (permission denied|must be)"):
            client.diagnose(PAST_THE_GUARD[attack].format(app=killer["app"]))
    finally:
        client.close()
    assert alive(pg_dsn, victims) == victims


def test_past_the_guard_copy_to_program_through_dblink_writes_no_file(pg_dsn, diag_dsn, monkeypatch, tmp_path):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS dblink")
    target = tmp_path / "pwned"
    monkeypatch.setattr(pgclient, "guard", lambda query: None)
    client = connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    try:
        with pytest.raises(TargetError, match="password is required"):
            client.diagnose(f"SELECT dblink_exec('dbname=postgres', 'COPY (SELECT 1) TO PROGRAM ''touch {target}''')")
    finally:
        client.close()
    assert not target.exists()


# --- the role is checked on connect ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "named"),
    [
        (("pg_monitor", "pg_signal_backend"), "is a member of pg_signal_backend"),
        (("pg_execute_server_program",), "is a member of pg_execute_server_program"),
        (("pg_read_server_files",), "is a member of pg_read_server_files"),
        (("pg_write_server_files",), "is a member of pg_write_server_files"),
    ],
)
def test_a_diagnostics_role_that_can_do_harm_is_refused_naming_it(isolated_home, pg_dsn, make_role, grants, named):
    dsn = make_role(*grants)
    done = run_cli("db", "activity", env={"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": dsn})
    assert done.returncode == 2, done.stdout + done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and named in line
    assert "diagnostics_dsn" in line and "diag_" in line


def test_a_member_of_the_applications_role_is_refused(pg_dsn, make_role):
    app = make_role()  # the application's role
    app_role = app.split("//")[1].split(":")[0]
    dsn = make_role("pg_monitor", app_role)
    with pytest.raises(ConfigError, match=f"is a member of {app_role}"):
        connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))


def test_the_applications_own_role_is_refused(pg_dsn, make_role):
    dsn = make_role("pg_monitor")
    with psycopg.connect(dsn, application_name="dits-server"):  # the application logs in as it too
        with pytest.raises(ConfigError, match="is also used by dits-server"):
            connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))


def test_set_role_on_a_superuser_session_is_not_enough(pg_dsn, diag_dsn):
    role = diag_dsn.split("//")[1].split(":")[0]
    dsn = f"{pg_dsn}?options=-c%20role%3D{role}"  # ditsops' own options replace these: still postgres
    with pytest.raises(ConfigError, match="role postgres is a superuser"):
        connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))
    # and a session whose role was set by other means is judged by who logged in
    row = {"role": role, "session_role": "postgres", "superuser": True, "createrole": False}
    judged = judge({**row, "member_of": [], "functions": [], "others": []})
    assert judged.problems[0] == "is set on a session of postgres, which can set its role back from inside a query"
    assert "is a superuser" in judged.problems


@pytest.mark.parametrize(
    ("function", "name"),
    [
        ("pg_read_file(text)", "pg_read_file"),
        ("pg_stat_reset()", "pg_stat_reset"),
        ("pg_reload_conf()", "pg_reload_conf"),
    ],
)
def test_a_function_granted_one_by_one_is_refused(pg_dsn, make_role, function, name):
    dsn = make_role("pg_monitor")
    role = dsn.split("//")[1].split(":")[0]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")
    with pytest.raises(ConfigError, match=rf"may execute {name}\(\)"):
        connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))


def test_a_diagnostics_dsn_for_another_database_is_refused(pg_dsn, diag_dsn):
    other = diag_dsn.rsplit("/", 1)[0] + "/template1"
    with pytest.raises(ConfigError, match="diagnostics would read another database"):
        connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=other))


def test_a_harmless_role_runs_own_sql_and_shipped_sql(isolated_home, pg_dsn, diag_dsn):
    name, _ = own_runbook(isolated_home, "SELECT count(*) AS sessions FROM pg_stat_activity")
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}
    done = run_cli("runbook", name, "--non-interactive", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    role = diag_dsn.split("//")[1].split(":")[0]
    assert f"diagnostics as {role} (diagnostics_dsn)" in done.stdout  # the header says who reads
    activity = run_cli("db", "activity", env=env)
    assert activity.returncode == 0, activity.stderr


def test_the_operators_session_resolves_names_in_the_catalog_only(pg_dsn):
    client = connect.postgres(Settings(dsn=pg_dsn))
    try:
        assert client.named("server_up").rows[0][0] == 1
        path = client._execute("SHOW search_path", None, read_only=True).rows[0][0]  # noqa: SLF001
    finally:
        client.close()
    assert path == "pg_catalog,pg_temp"


def test_readme_shows_the_grants_a_dba_runs():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("### The diagnostics role", 1)[1].split("\n## ", 1)[0]
    assert "CREATE ROLE ditsops_diag LOGIN PASSWORD" in section
    assert "GRANT pg_monitor TO ditsops_diag;" in section
    assert textwrap.dedent("diagnostics_dsn") in section


def test_an_operator_someone_created_cannot_answer_the_role_check(pg_dsn, make_role):
    """The role's search_path puts public first, where `<>` on oids always says false: the
    membership list would come back empty. The check resolves names in pg_catalog only."""
    dsn = make_role("pg_monitor", "pg_signal_backend")
    role = dsn.split("//")[1].split(":")[0]
    function = f"never_differs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE FUNCTION public.{function}(oid, oid) RETURNS boolean LANGUAGE sql AS 'SELECT false'")
        conn.execute(f"CREATE OPERATOR public.<> (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.{function})")
        conn.execute(f"ALTER ROLE {role} SET search_path = public, pg_catalog")
    try:
        with pytest.raises(ConfigError, match="is a member of pg_signal_backend"):
            connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP OPERATOR public.<> (oid, oid)")
            conn.execute(f"DROP FUNCTION public.{function}(oid, oid)")


def test_a_query_of_a_billion_rows_is_cut_after_max_rows_and_the_session_lives(pg_dsn, diag_dsn):
    client = connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    try:
        # in the select list, rows stream as they are made (in FROM the function would be materialized first)
        result = client.diagnose("SELECT generate_series(1, 1000000000) AS n, repeat('x', 100) AS filler")
        assert len(result.rows) == pgclient.MAX_ROWS and result.more
        assert client.diagnose("SELECT 1 AS one").rows == [(1,)]
    finally:
        client.close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the cancelled query is not running on
        running = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%generate_series(1, 1000000000)%%' "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert running == 0


def test_a_diagnostics_role_without_pg_monitor_is_refused_rather_than_miscount(pg_dsn, make_role):
    dsn = make_role()
    role = dsn.split("//")[1].split(":")[0]
    with pytest.raises(ConfigError, match=f"cannot see other sessions' state and query .*GRANT pg_monitor TO {role}"):
        connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))


def test_a_role_name_with_a_newline_and_escapes_is_one_line_in_the_refusal(pg_dsn, make_role):
    dsn = make_role("pg_monitor")
    role = dsn.split("//")[1].split(":")[0]
    hostile = f"app\n\x1b]52;c;{role}\x07"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(hostile)))
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(hostile), sql.Identifier(role)))
    try:
        with pytest.raises(ConfigError) as refused:
            connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=dsn))
        message = refused.value.message
        assert "\n" not in message and "\x1b" not in message and "\\x1b]52" in message
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(hostile)))


def test_destructive_actions_keep_the_operators_dsn(isolated_home, pg_dsn, diag_dsn, sessions):
    """The diagnostics role could not terminate a superuser's session: this one is gone, so the
    terminate ran on dsn, behind its preview, although diagnostics_dsn is set."""
    victim = sessions.idle_in_transaction()
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}
    done = run_cli("db", "terminate", "--app", sessions.app, "--yes", "--output", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert victim.info.backend_pid not in sessions.alive()


def test_a_security_definer_killer_of_the_superuser_is_refused_on_connect(pg_dsn, diag_dsn, sessions):
    """kill(int) as SECURITY DEFINER owned by postgres runs with the superuser's privileges
    whoever calls it: the role that may execute it is refused, nothing is sent."""
    victim = sessions.idle()
    function = f"definer_kill_{uuid.uuid4().hex[:8]}"
    role = diag_dsn.split("//")[1].split(":")[0]
    with psycopg.connect(pg_dsn, autocommit=True) as conn, conn.transaction():
        # Executable by this test's role only, from the start: other tests' roles never see it.
        conn.execute(
            f"CREATE FUNCTION public.{function}(p int) RETURNS boolean LANGUAGE sql SECURITY DEFINER "
            "AS 'SELECT pg_terminate_backend(p)'"
        )
        conn.execute(f"REVOKE EXECUTE ON FUNCTION public.{function}(int) FROM PUBLIC")
        conn.execute(f"GRANT EXECUTE ON FUNCTION public.{function}(int) TO {role}")
    try:
        with pytest.raises(ConfigError, match=f"SECURITY DEFINER functions of a privileged owner \\({function} of"):
            connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP FUNCTION public.{function}(int)")
    assert victim.info.backend_pid in sessions.alive()
