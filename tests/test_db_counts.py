"""The counts `db activity` and `db blocking` print, against a real PostgreSQL and a real
lock queue: the header and the table agree, and each blocked session is listed and
counted once, as pg_blocking_pids sees it."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from ditsops.core import connect, db
from ditsops.core.config import Settings
from ditsops.render.console import THEME
from ditsops.render.db import render_activity, render_blocking
from tests.cli import run_cli

WAITING = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND wait_event_type = 'Lock'"
PG_BLOCKED = "SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0"


@pytest.fixture
def client(pg_dsn):
    connected = connect.postgres(Settings(dsn=pg_dsn))
    yield connected
    connected.close()


@pytest.fixture
def lock_queue(sessions):
    """A holds ACCESS EXCLUSIVE; B queues for ACCESS EXCLUSIVE behind A; C and D queue to
    read behind both (their requests conflict with A's lock and with B's queued one)."""
    a = sessions.lock_holder()
    b = sessions.exclusive_waiter()
    sessions.wait_until(WAITING, 1)
    c, d = sessions.waiter(), sessions.waiter()
    sessions.wait_until(WAITING, 3)
    return [conn.info.backend_pid for conn in (a, b, c, d)]


def terminal(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    # A terminal 80 columns wide, without escape codes to parse around (color_system None).
    console = Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False, theme=THEME)
    return console, out


def pg_blocked(sessions) -> int:
    import psycopg

    with psycopg.connect(sessions.dsn, autocommit=True) as probe:
        return probe.execute(PG_BLOCKED).fetchone()[0]


def flat(nodes: list[dict]) -> list[int]:
    return [pid for n in nodes for pid in (n["pid"], *flat(n["waiters"]))]


def test_blocking_lists_each_blocked_session_once_and_counts_what_pg_blocking_pids_counts(client, sessions, lock_queue):
    a, b, c, d = lock_queue
    forest = db.blocking(client)
    expected = pg_blocked(sessions)
    assert expected == 3  # B, C, D; C and D are each blocked by two pids

    pids = [pid for root in forest for pid in root.pids()]
    assert sorted(pids) == sorted({a, b, c, d})  # each session once
    assert db.blocked_count(forest) == expected
    [root] = forest
    assert root.backend.pid == a
    assert [n.backend.pid for n in root.blocks] == [b]  # the queue: A > B > C, D
    assert sorted(n.backend.pid for n in root.blocks[0].blocks) == sorted([c, d])
    assert set(root.blocks[0].blocks[0].backend.blocked_by) == {a, b}

    console, out = terminal()
    render_blocking(console, forest)
    text = out.getvalue()
    assert text.splitlines()[0] == f"{expected} blocked sessions behind 1 blocker"
    for pid in (a, b, c, d):
        assert len(re.findall(rf"\bpid {pid}\b", text)) == 1, text
    assert f"(blocked by {', '.join(map(str, sorted([a, b])))})" in text  # C and D name both


def test_db_blocking_through_a_pipe_and_as_json(pg_dsn, isolated_home, sessions, lock_queue):
    a, b, c, d = lock_queue
    env = {"DITSOPS_DSN": pg_dsn, "COLUMNS": "80"}
    shown = run_cli("db", "blocking", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "3 blocked sessions behind 1 blocker"
    for pid in (a, b, c, d):
        assert len(re.findall(rf"\bpid {pid}\b", shown.stdout)) == 1, shown.stdout
    data = run_cli("db", "blocking", "-o", "json", env=env)
    assert data.returncode == 0, data.stderr
    assert sorted(flat(json.loads(data.stdout))) == sorted([a, b, c, d])


def test_activity_header_and_table_count_the_same_sessions(client, sessions):
    for _ in range(3):
        sessions.idle()
    sessions.idle_in_transaction()
    sessions.wait_until("SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s", 4)

    report = db.activity(client)
    assert report.this_session == 1
    assert sum(report.counts.values()) == report.total  # every state, 'unknown' included
    assert report.total + report.this_session == report.cluster_total  # one snapshot
    assert report.cluster_total >= 5

    console, out = terminal()
    render_activity(console, report)
    text = out.getvalue()
    header = re.search(r"Connections (\d+)/(\d+)", text)
    assert header and int(header[1]) == report.cluster_total
    assert re.search(r"^this ditsops session\s+1$", text, re.M)
    assert re.search(rf"^total\s+{report.cluster_total}$", text, re.M), text


def test_activity_with_a_filter_says_what_its_total_counts(client, sessions):
    sessions.idle()
    sessions.idle_in_transaction()
    sessions.wait_until("SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s", 2)
    report = db.activity(client, application=sessions.app)
    assert report.total == 2

    console, out = terminal()
    render_activity(console, report)
    text = out.getvalue()
    assert re.search(rf"^total \(app={sessions.app}\)\s+2$", text, re.M), text
    assert not re.search(r"^this ditsops session", text, re.M)  # not one of the matching sessions
