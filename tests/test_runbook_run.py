"""Walking runbooks end to end without a terminal: refusal, --yes, the record, the report."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.cli import run_cli


@pytest.fixture
def env(pg_dsn, diag_dsn, isolated_home):
    return {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}


def write_runbook(tmp_path, body: str, name: str = "practice"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


TERMINATE = """
    name: practice
    title: Practice terminate
    params:
      app: {{type: string, default: {app}}}
      older_than: {{type: duration, default: 0s}}
    escalation:
      - {{after: 0s, say: Page the DBA now}}
    steps:
      - id: count
        title: Idle in transaction for {{{{ app }}}}
        sql: |
          SELECT count(*) AS n FROM pg_stat_activity
          WHERE application_name = {{{{ app }}}} AND state = 'idle in transaction'
        value: n
        threshold: {{warn: 1, fail: 2}}
      - id: kill
        title: Terminate them
        when: count failing
        action: terminate-backends
        filters: {{application: "{{{{ app }}}}", state: idle in transaction, older_than: "{{{{ older_than }}}}"}}
      - id: recount
        title: Count again
        verify: count
        within: 10s
        every: 1s
"""


def record_of(isolated_home):
    runs = sorted((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    assert runs, "no run record written"
    return [json.loads(line) for line in runs[-1].read_text().splitlines()]


def test_non_interactive_refuses_the_destructive_step_and_exits_5(env, sessions, tmp_path, isolated_home):
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    done = run_cli("runbook", str(path), env=env)
    assert done.returncode == 5, done.stdout + done.stderr
    assert "This will terminate 3 backends" in done.stdout  # the preview is still shown
    assert "refused" in done.stdout
    assert victims <= sessions.alive()
    events = record_of(isolated_home)
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["approved"] is False and decision["how"].startswith("refused")
    assert events[-1]["event"] == "run-end" and events[-1]["exit_code"] == 5


def test_yes_terminates_verifies_and_records_who(env, sessions, tmp_path, isolated_home):
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    done = run_cli("runbook", str(path), "--yes", env={**env, "USER": "oncall-ana"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert not victims & sessions.alive()
    assert "recovered" in done.stdout
    events = record_of(isolated_home)
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["approved"] is True and decision["by"].startswith("oncall-ana@")
    kill = next(e for e in events if e["event"] == "step" and e["step"] == "kill")
    assert sorted(kill["result"]["terminated"]) == sorted(victims)
    assert any(e["event"] == "escalation" and e["say"] == "Page the DBA now" for e in events)
    assert "Page the DBA now" in done.stdout

    report = run_cli("runbook", "report", "--markdown", env=env)
    assert report.returncode == 0
    assert report.stdout.startswith("# Practice terminate — run ")
    assert "decision: approved by oncall-ana@" in report.stdout
    assert "| kill | **applied** — terminated 3 of 3 previewed backends |" in report.stdout
    assert "SELECT pg_terminate_backend(pid)" in report.stdout


def test_failing_check_without_any_action_exits_3(env, sessions, tmp_path):
    for _ in range(3):
        sessions.idle_in_transaction()
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app).replace("when: count failing", "when: count ok"))
    done = run_cli("runbook", str(path), env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "not resolved: count failing at 3" in done.stdout


def test_dry_run_previews_and_changes_nothing(env, sessions, tmp_path):
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    done = run_cli("runbook", str(path), "--dry-run", "--yes", env=env)
    assert "dry run: previewed, not applied" in done.stdout
    assert victims <= sessions.alive()


def test_from_starts_at_the_named_step(env, sessions, tmp_path):
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    done = run_cli("runbook", str(path), "--from", "recount", "--output", "json", env=env)
    data = json.loads(done.stdout)
    assert [s["id"] for s in data["steps"]] == ["recount"]
    bad = run_cli("runbook", str(path), "--from", "nope", env=env)
    assert bad.returncode == 2 and "--from nope" in bad.stderr


def test_set_is_validated_by_type(env, sessions, tmp_path):
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    done = run_cli("runbook", str(path), "--set", "older_than=soon", env=env)
    assert done.returncode == 2
    assert "--set older_than: 'soon' is not a duration" in done.stderr
    done = run_cli("runbook", str(path), "--set", "colour=red", env=env)
    assert done.returncode == 2 and "has no parameter colour" in done.stderr


def test_sql_injection_through_a_parameter_stays_a_value(env, sessions, tmp_path):
    sessions.idle_in_transaction()
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    hostile = "x' OR '1'='1"
    done = run_cli("runbook", str(path), "--set", f"app={hostile}", "--yes", "--output", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["count"]["value"] == 0  # matched nothing: the quote was data, not SQL
    # The kill step is skipped by its condition; run it directly with the same value: the
    # application filter is bound too, so it selects nothing rather than every backend.
    assert steps["kill"]["status"] == "skipped"
    direct = run_cli("db", "terminate", "--app", hostile, "--yes", "--output", "json", env=env)
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert [step["status"] for step in json.loads(direct.stdout)["steps"]] == ["nothing-to-do"], direct.stdout
    assert len(sessions.alive()) == 1


def test_unreachable_database_marks_steps_and_exits_4(isolated_home, tmp_path):
    from ditsops.sandbox.ports import free_port

    path = write_runbook(tmp_path, TERMINATE.format(app="nobody"))
    dsn = f"postgresql://dits:pw-never-shown@127.0.0.1:{free_port()}/dits"
    done = run_cli("runbook", str(path), env={"DITSOPS_DSN": dsn})
    assert done.returncode == 4, done.stdout + done.stderr
    assert "cannot connect to PostgreSQL" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    events = record_of(isolated_home)
    assert "pw-never-shown" not in json.dumps(events) + done.stdout + done.stderr


def test_password_never_reaches_output_or_record(env, pg_dsn, sessions, tmp_path, isolated_home):
    secret = pg_dsn.split(":")[2].split("@")[0]
    sessions.idle_in_transaction()
    path = write_runbook(tmp_path, TERMINATE.format(app=sessions.app))
    done = run_cli("runbook", str(path), "--yes", env=env)
    runs = list((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"))
    report = run_cli("runbook", "report", env=env)
    for text in (done.stdout, done.stderr, report.stdout, *(p.read_text() for p in runs)):
        assert secret not in text
    assert "127.0.0.1" in done.stdout  # the target itself is shown


LOSES_CONNECTION = """
    name: practice
    title: Lose the connection
    steps:
      - id: suicide
        title: This session is terminated mid-run (by the test, from outside)
        sql: SELECT pg_sleep(0.9) AS slept, 'ditsops-test-lose-me' AS marker
      - id: after
        title: The next step reconnects
        sql: SELECT 1 AS one
        value: one
      - id: slow
        title: Slower than statement_timeout
        sql: SELECT pg_sleep(5)
"""


def _terminate_when_seen(dsn: str, marker: str, stop) -> None:
    """Another session terminates the ditsops backend while it runs the marked query
    (a diagnostic may not call pg_terminate_backend itself)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            hit = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ditsops'"
                " AND state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
                (f"%{marker}%",),
            ).fetchall()
            if hit:
                return
            stop.wait(0.01)


def test_lost_connection_and_statement_timeout_are_one_line_step_errors(env, pg_dsn, tmp_path):
    import threading

    path = write_runbook(tmp_path, LOSES_CONNECTION)
    stop = threading.Event()
    killer = threading.Thread(target=_terminate_when_seen, args=(pg_dsn, "ditsops-test-lose-me", stop), daemon=True)
    killer.start()
    try:
        done = run_cli("runbook", str(path), "--output", "json", env={**env, "DITSOPS_STATEMENT_TIMEOUT": "1s"})
    finally:
        stop.set()
        killer.join(timeout=10)
    assert done.returncode == 4, done.stdout + done.stderr
    steps = {s["id"]: s for s in json.loads(done.stdout)["steps"]}
    assert steps["suicide"]["status"] == "error"
    assert steps["suicide"]["summary"].startswith("lost the connection to PostgreSQL at diag_")  # the diagnostics role
    assert steps["after"]["status"] == "info" and steps["after"]["value"] == 1
    assert steps["slow"]["summary"] == "PostgreSQL cancelled the query: statement_timeout reached"
    assert "Traceback" not in done.stderr
