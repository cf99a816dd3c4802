"""Two operators on one database: while `db terminate` waits for its answer it holds a
session advisory lock whose holder pg_stat_activity names; a second ditsops refuses
(exit 5) naming the holder; the lock goes with the run."""

from __future__ import annotations

import os
import sys

import pexpect
import psycopg

from tests.cli import run_cli


def test_a_second_terminate_on_the_same_database_names_the_first(pg_dsn, sessions, isolated_home):
    for _ in range(2):
        sessions.idle_in_transaction()
    env = {**os.environ, "DITSOPS_DSN": pg_dsn, "COLUMNS": "200", "USER": "oncall-ana"}
    first = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "db", "terminate", "--app", sessions.app, "--state", "idle in transaction"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    first.expect(r"\[y/N\]")
    with psycopg.connect(pg_dsn, autocommit=True) as probe:
        names = [r[0] for r in probe.execute("SELECT application_name FROM pg_stat_activity").fetchall()]
    assert any(n.startswith("ditsops lease oncall-ana@") for n in names), names
    second = run_cli(
        "db",
        "terminate",
        "--app",
        sessions.app,
        "--state",
        "idle in transaction",
        "--yes",
        env={"DITSOPS_DSN": pg_dsn, "USER": "oncall-bo"},
    )
    assert second.returncode == 5, second.stdout + second.stderr
    assert "is held by oncall-ana@" in " ".join(second.stdout.split())
    assert len(sessions.alive()) >= 2  # nobody was terminated by the second operator
    first.sendline("n")
    first.expect(pexpect.EOF)
    first.close()
    third = run_cli(
        "db", "terminate", "--app", sessions.app, "--state", "idle in transaction", "--yes", env={"DITSOPS_DSN": pg_dsn}
    )
    assert third.returncode == 0, third.stdout + third.stderr  # the lock went with the first run
