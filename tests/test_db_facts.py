"""What `db blocking` and `db activity` state, checked against PostgreSQL itself: every pid
a waiter names in pg_blocking_pids lists that waiter under `blocks`, and an idle-in-
transaction session's age is its time in that state (state_change), as README defines."""

from __future__ import annotations

import json

import psycopg

from tests.cli import run_cli

WAITING = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND wait_event_type = 'Lock'"


def share_holder(sessions) -> psycopg.Connection:
    with psycopg.connect(sessions.dsn, autocommit=True) as setup:
        setup.execute(f"CREATE TABLE IF NOT EXISTS {sessions.table} (id int)")
    conn = sessions._open()
    conn.execute(f"LOCK TABLE {sessions.table} IN SHARE MODE")  # two SHARE locks coexist
    return conn


def nodes(forest: list[dict]) -> list[dict]:
    return [n for root in forest for n in (root, *nodes(root["waiters"]))]


def test_blocking_json_lists_every_waiter_under_every_pid_it_waits_for(pg_dsn, isolated_home, sessions) -> None:
    first, second = share_holder(sessions), share_holder(sessions)
    sessions.exclusive_waiter()  # ACCESS EXCLUSIVE waits for both holders
    sessions.wait_until(WAITING, 1)
    waiter = sessions.pids()[2]
    with psycopg.connect(sessions.dsn, autocommit=True) as probe:
        named = set(probe.execute("SELECT pg_blocking_pids(%s)", (waiter,)).fetchone()[0])
    assert named == {first.info.backend_pid, second.info.backend_pid}

    done = run_cli("db", "blocking", "-o", "json", env={"DITSOPS_DSN": pg_dsn})
    assert done.returncode == 0, done.stderr
    listed = {n["pid"]: n for n in nodes(json.loads(done.stdout))}
    assert sorted(listed) == sorted(sessions.pids())  # each session once in the tree
    for pid in named:
        assert listed[pid]["blocks"] == [waiter], listed[pid]  # neither holder says it blocks nothing
    assert set(listed[waiter]["blocked_by"]) == named

    shown = run_cli("db", "blocking", env={"DITSOPS_DSN": pg_dsn, "COLUMNS": "80"}).stdout
    assert f"also blocks {waiter} (listed under another blocker)" in shown, shown  # the holder without a tree


def test_activity_age_of_an_idle_transaction_is_its_time_in_that_state(pg_dsn, isolated_home, sessions) -> None:
    conn = sessions._open()
    conn.execute("SELECT pg_sleep(1.5)")  # the query took 1.5 s, then the transaction sat idle
    pid = conn.info.backend_pid
    sessions.wait_until(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND state = 'idle in transaction'", 1
    )
    done = run_cli("db", "activity", "-o", "json", env={"DITSOPS_DSN": pg_dsn})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    row = next(b for b in (data.get("data", data))["longest"] if b["pid"] == pid)
    assert row["age"] == row["state_age"]
    assert row["query_age"] - row["state_age"] >= 1.4  # the two clocks really differ here

    shown = run_cli("db", "activity", env={"DITSOPS_DSN": pg_dsn, "COLUMNS": "80"})
    assert "Longest non-idle sessions" in shown.stdout and " age " in shown.stdout, shown.stdout
