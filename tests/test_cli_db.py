"""`ditsops db ...` end to end: the real command against a real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.cli import run_cli

STATE_COUNT = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND {}"


@pytest.fixture
def env(pg_dsn, isolated_home):
    return {"DITSOPS_DSN": pg_dsn}


def password(dsn: str) -> str:
    return dsn.split(":")[2].split("@")[0]


def test_activity_json_counts_by_state(env, sessions):
    sessions.idle_in_transaction()
    sessions.active()
    sessions.wait_until(STATE_COUNT.format("state = 'active'"), 1)
    done = run_cli("db", "activity", "--app", sessions.app, "--output", "json", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["counts"]["idle in transaction"] == 1
    assert data["counts"]["active"] == 1
    assert data["max_connections"] == 100
    assert sorted(b["state"] for b in data["longest"]) == ["active", "idle in transaction"]


def test_activity_through_a_pipe_has_the_query_on_one_line_without_colour(env, sessions):
    conn = sessions.active()
    del conn
    sessions.wait_until(STATE_COUNT.format("state = 'active'"), 1)
    done = run_cli("db", "activity", "--app", sessions.app, env={**env, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    assert "Connections" in done.stdout
    # Piped, nothing is cut or folded (kubectl's rule): the query is on one line, whole.
    assert any("SELECT pg_sleep(120)" in line for line in done.stdout.splitlines())
    assert "\x1b[" not in done.stdout  # a pipe gets no colour codes


def test_blocking_shows_a_tree(env, sessions):
    holder = sessions.lock_holder()
    sessions.waiter()
    sessions.wait_until(STATE_COUNT.format("wait_event_type = 'Lock'"), 1)
    done = run_cli("db", "blocking", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    root = next(i for i, line in enumerate(lines) if f"pid {holder.info.backend_pid}" in line)
    assert "└──" in lines[root + 1] and "waiting for AccessShareLock" in lines[root + 1]


def test_terminate_without_terminal_or_yes_is_refused_and_changes_nothing(env, sessions):
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(2)}
    done = run_cli("db", "terminate", "--app", sessions.app, "--state", "idle in transaction", env=env)
    assert done.returncode == 5, done.stdout + done.stderr
    assert "refused" in done.stdout
    assert victims <= sessions.alive()


def test_terminate_with_yes_terminates_and_reports(env, sessions):
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(2)}
    keep = sessions.idle().info.backend_pid
    done = run_cli("db", "terminate", "--app", sessions.app, "--state", "idle in transaction", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "terminated 2 of 2 previewed backends" in done.stdout
    assert not victims & sessions.alive()
    assert keep in sessions.alive()


def test_terminate_dry_run_previews_only(env, sessions):
    victim = sessions.idle_in_transaction().info.backend_pid
    done = run_cli("db", "terminate", "--pid", str(victim), "--dry-run", env=env)
    assert done.returncode == 0
    assert str(victim) in done.stdout and "SELECT pg_terminate_backend(pid)" in done.stdout
    assert victim in sessions.alive()


def test_terminate_needs_a_pid_or_a_filter(env):
    done = run_cli("db", "terminate", "--yes", env=env)
    assert done.returncode == 2
    assert "give --pid or at least one filter" in done.stderr


def test_unreachable_database_exits_4_with_one_line(isolated_home):
    from ditsops.sandbox.ports import free_port

    dsn = f"postgresql://dits:s3cr3t-pass@127.0.0.1:{free_port()}/dits"
    done = run_cli("db", "activity", env={"DITSOPS_DSN": dsn})
    assert done.returncode == 4
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot connect to PostgreSQL at dits@127.0.0.1" in done.stderr
    assert "s3cr3t-pass" not in done.stderr and "Traceback" not in done.stderr


def test_password_never_printed(env, pg_dsn):
    done = run_cli("config", "show", "--output", "json", env=env)
    assert done.returncode == 0
    assert password(pg_dsn) not in done.stdout
    assert json.loads(done.stdout)["settings"]["dsn"].startswith("postgresql://postgres:***@")
    done = run_cli("db", "activity", env=env)
    assert done.returncode == 0, done.stderr
    assert password(pg_dsn) not in done.stdout + done.stderr


def test_bad_duration_is_a_usage_error(env):
    done = run_cli("db", "long-queries", "--older-than", "five minutes", env=env)
    assert done.returncode == 2
    assert "is not a duration" in done.stderr


LOCK_WAITERS = STATE_COUNT.format("wait_event_type = 'Lock'")


def row_lock_queue(sessions, waiters: int = 3):
    holder = sessions.row_lock_holder()
    queued = {sessions.row_waiter().info.backend_pid for _ in range(waiters)}
    sessions.wait_until(LOCK_WAITERS, waiters)
    return holder.info.backend_pid, queued


def test_terminate_blocking_previews_the_holder_with_its_queue_then_frees_it(env, sessions):
    holder, queued = row_lock_queue(sessions)
    done = run_cli("db", "terminate", "--blocking", "--app", sessions.app, "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "terminate 1 backend blocking 3 sessions on postgres@127.0.0.1:" in done.stdout
    assert "(blocking other sessions, application " in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.lstrip("│ ").startswith(str(holder)))
    assert "idle in transaction" in row
    assert f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ({holder});" in done.stdout
    assert "terminated 1 of 1 previewed backends" in done.stdout
    sessions.wait_until(STATE_COUNT.format("state = 'idle'"), 3)  # the waiters finished their UPDATE
    assert sessions.alive() == queued


def test_blocking_preview_as_json_counts_the_sessions_behind_the_blocker(env, sessions):
    holder, queued = row_lock_queue(sessions)
    done = run_cli("db", "cancel", "--blocking", "--app", sessions.app, "--dry-run", "--output", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    preview = json.loads(done.stdout)["steps"][0]["preview"]
    assert preview["blocking"] is True and preview["blocked_sessions"] == 3
    [blocker] = preview["backends"]
    assert blocker["pid"] == holder and blocker["state"] == "idle in transaction"
    assert set(blocker["behind"]) == queued and len(blocker["blocks"]) == 1
    assert "cancel 1 backend blocking 3 sessions" in done.stderr  # the preview, beside the JSON
    assert sessions.alive() == queued | {holder}
    sessions.wait_until(LOCK_WAITERS, 3)


def test_terminate_blocking_without_a_lock_queue_has_nothing_to_do(env, sessions):
    bystander = sessions.idle_in_transaction().info.backend_pid
    done = run_cli("db", "terminate", "--blocking", "--app", sessions.app, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing-to-do: terminate 0 backends on" in done.stdout
    assert bystander in sessions.alive()


def test_terminate_blocking_without_terminal_or_yes_is_refused_and_changes_nothing(env, sessions):
    holder, queued = row_lock_queue(sessions)
    done = run_cli("db", "terminate", "--blocking", env=env)
    assert done.returncode == 5, done.stdout + done.stderr
    assert "refused" in done.stdout
    assert sessions.alive() == queued | {holder}
    sessions.wait_until(LOCK_WAITERS, 3)  # still queued: nothing was let through


def test_kill_blocker_step_in_a_runbook(env, sessions, tmp_path):
    holder, queued = row_lock_queue(sessions)
    path = tmp_path / "lock-queue.yaml"
    path.write_text(
        "name: lock-queue\ntitle: Lock queue\nparams:\n  application: {type: string, default: dits-server}\n"
        "steps:\n  - id: kill-blocker\n    title: Terminate the blocker\n    action: terminate-backends\n"
        '    filters: {blocking: true, application: "{{ application }}"}\n'
    )
    done = run_cli("runbook", str(path), "--set", f"application={sessions.app}", "--non-interactive", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "blocking 3 sessions" in done.stdout and "terminated 1 of 1 previewed backends" in done.stdout
    sessions.wait_until(STATE_COUNT.format("state = 'idle'"), 3)
    assert holder not in sessions.alive()


def test_a_filter_that_resolves_to_nothing_never_selects_everyone(env, sessions, tmp_path):
    bystander = sessions.idle_in_transaction().info.backend_pid
    path = tmp_path / "empty-filter.yaml"
    path.write_text(
        "name: empty-filter\ntitle: Empty filter\nparams:\n  application: {type: string, default: dits-server}\n"
        "steps:\n  - id: kill\n    title: Terminate\n    action: terminate-backends\n"
        '    filters: {application: "{{ application }}"}\n'
    )
    done = run_cli("runbook", str(path), "--set", "application=", "--non-interactive", "--yes", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "filter application renders empty" in done.stdout + done.stderr
    assert bystander in sessions.alive()
