"""PostgreSQL diagnostics and terminate/cancel against a real throwaway cluster."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import psycopg
import pytest

from ditsops.base.errors import TargetUnreachable
from ditsops.clients.postgres import PostgresClient
from ditsops.core import connect, db
from ditsops.core.config import Settings

STATE_COUNT = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND {}"


@pytest.fixture
def client(pg_dsn):
    connected = connect.postgres(Settings(dsn=pg_dsn))
    yield connected
    connected.close()


def test_activity_counts_what_the_test_created(client, sessions):
    for _ in range(3):
        sessions.idle_in_transaction()
    for _ in range(2):
        sessions.active()
    sessions.lock_holder()  # itself idle in transaction
    for _ in range(4):
        sessions.waiter()
    sessions.idle()
    sessions.wait_until(STATE_COUNT.format("wait_event_type = 'Lock'"), 4)

    report = db.activity(client, application=sessions.app)

    assert report.counts["idle in transaction"] == 4
    assert report.counts["active"] == 2 + 4
    assert report.counts["idle"] == 1
    assert report.counts["idle in transaction (aborted)"] == 0
    assert report.waiting_on_lock == 4
    assert report.total == 11
    assert report.max_connections == 100
    assert report.cluster_total >= 12  # plus this ditsops session
    assert report.percent_used == pytest.approx(100 * report.cluster_total / 100)
    assert {b.state for b in report.longest} == {"active", "idle in transaction"}
    assert report.longest and all(b.application == sessions.app for b in report.longest)


def test_aborted_transactions_are_counted_under_their_real_state_name(client, sessions):
    conn = sessions.idle_in_transaction()
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1/0")
    sessions.wait_until(STATE_COUNT.format("state = 'idle in transaction (aborted)'"), 1)
    report = db.activity(client, application=sessions.app)
    assert report.counts["idle in transaction (aborted)"] == 1
    assert report.counts["idle in transaction"] == 0


def test_this_session_is_never_listed(client, sessions):
    sessions.active()
    found = db.backends(client, db.BackendFilter(states=db.NON_IDLE))
    assert client.backend_pid not in {b.pid for b in found}


def test_long_queries_and_idle_in_transaction_respect_their_age(client, sessions):
    sessions.active()
    sessions.idle_in_transaction()
    sessions.wait_until(STATE_COUNT.format("state = 'active'"), 1)
    assert db.long_queries(client, timedelta(hours=1)) == []
    # the spec's definition: anything not plain idle, so an open transaction counts too
    mine = [b for b in db.long_queries(client, timedelta(0)) if b.application == sessions.app]
    assert sorted(b.state for b in mine) == ["active", "idle in transaction"]
    assert any("pg_sleep" in b.query for b in mine)
    idle = [b for b in db.idle_in_transaction(client, timedelta(0)) if b.application == sessions.app]
    assert len(idle) == 1 and idle[0].state == "idle in transaction"
    assert db.idle_in_transaction(client, timedelta(hours=1)) == []


def test_blocking_tree_puts_waiters_under_their_blocker(client, sessions):
    holder = sessions.lock_holder()
    for _ in range(2):
        sessions.waiter()
    sessions.wait_until(STATE_COUNT.format("wait_event_type = 'Lock'"), 2)

    forest = db.blocking(client)

    roots = [node for node in forest if node.backend.pid == holder.info.backend_pid]
    assert len(roots) == 1
    root = roots[0]
    assert root.backend.blocked_by == ()
    # the second waiter queues behind the holder and behind the first waiter
    assert root.count() >= 2
    waiting = {child.backend.pid for child in root.blocks}
    assert waiting and waiting <= set(sessions.pids()[1:])
    assert all("AccessShareLock" in (child.backend.waiting_for or "") for child in root.blocks)


def test_terminate_hits_exactly_the_previewed_backends(client, sessions):
    targets = [sessions.idle_in_transaction() for _ in range(3)]
    bystander = sessions.idle()  # matches no filter below
    preview = db.backends(client, db.BackendFilter(states=("idle in transaction",), application=sessions.app))
    assert {b.pid for b in preview} == {c.info.backend_pid for c in targets}

    late = sessions.idle_in_transaction()  # arrives after the preview: must survive
    report = db.signal_backends(client, "terminate", preview)

    assert {b.pid for b in report.signalled} == {c.info.backend_pid for c in targets}
    assert report.not_signalled == []
    assert report.still_connected == []
    alive = sessions.alive()
    assert late.info.backend_pid in alive and bystander.info.backend_pid in alive
    assert not alive & {c.info.backend_pid for c in targets}


def test_a_pid_behind_a_new_connection_is_not_hit(client, sessions):
    """Between preview and confirm the backend went away and its pid now names another
    connection: simulated by a preview whose backend_start differs from the live one."""
    victim = sessions.idle_in_transaction()
    [shown] = db.backends(client, db.BackendFilter(pids=(victim.info.backend_pid,)))
    reused = dataclasses.replace(shown, backend_start=shown.backend_start - timedelta(minutes=3))

    report = db.signal_backends(client, "terminate", [reused])

    assert report.signalled == []
    assert report.not_signalled[0][0].pid == victim.info.backend_pid
    assert "new connection" in report.not_signalled[0][1]
    assert victim.info.backend_pid in sessions.alive()


def test_a_backend_gone_since_the_preview_is_reported_not_terminated(client, sessions):
    leaving = sessions.idle()
    [shown] = db.backends(client, db.BackendFilter(pids=(leaving.info.backend_pid,)))
    leaving.close()
    sessions.wait_until("SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s", 0)
    report = db.signal_backends(client, "terminate", [shown])
    assert report.signalled == [] and len(report.not_signalled) == 1


def test_cancel_stops_the_query_but_keeps_the_session(client, sessions):
    running = sessions.active()
    sessions.wait_until(STATE_COUNT.format("state = 'active'"), 1)
    preview = db.backends(client, db.BackendFilter(states=("active",), application=sessions.app))
    report = db.signal_backends(client, "cancel", preview)
    assert [b.pid for b in report.signalled] == [running.info.backend_pid]
    sessions.wait_until(STATE_COUNT.format("state = 'idle'"), 1)
    assert running.info.backend_pid in sessions.alive()


def test_diagnostics_run_read_only_with_timeouts(pg_dsn, diag_dsn):
    client = connect.diagnostics(Settings(dsn=pg_dsn, diagnostics_dsn=diag_dsn))
    try:
        result = client.diagnose(
            "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
            " current_setting('lock_timeout'), current_setting('application_name')"
        )
    finally:
        client.close()
    assert result.rows == [("on", "30s", "5s", "ditsops")]


def test_server_version_is_known_and_supported(client):
    assert 12 <= client.server_version // 10000 <= 17
    assert client.warnings == []


def test_an_unsupported_old_server_is_refused_clearly(pg_dsn, mocker):
    from ditsops.base.errors import TargetError

    real = PostgresClient.__init__

    def pretend_old(self, connection, settings, target):
        mocker.patch.object(type(connection.info), "server_version", new=110009, create=True)
        real(self, connection, settings, target)

    mocker.patch.object(PostgresClient, "__init__", pretend_old)
    with pytest.raises(TargetError, match="PostgreSQL 11.9 .* older than 12"):
        connect.postgres(Settings(dsn=pg_dsn))


def test_unreachable_server_is_one_clear_error(pg_cluster):
    from ditsops.sandbox.ports import free_port

    dsn = f"postgresql://postgres:hunter2secret@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(TargetUnreachable) as caught:
        connect.postgres(Settings(dsn=dsn, connect_timeout=2))
    assert "cannot connect to PostgreSQL at postgres@127.0.0.1" in caught.value.message
    assert "hunter2secret" not in caught.value.message


LOCK_WAITERS = STATE_COUNT.format("wait_event_type = 'Lock'")


def row_lock_queue(sessions, waiters: int = 3):
    """A holder idle in transaction with a row lock, and waiters queued to update that row."""
    holder = sessions.row_lock_holder()
    queued = [sessions.row_waiter() for _ in range(waiters)]
    sessions.wait_until(LOCK_WAITERS, waiters)
    return holder, queued


def blockers(client, sessions) -> list[db.Backend]:
    return db.backends(client, db.BackendFilter(blocking=True, application=sessions.app))


def test_blocking_filter_selects_exactly_the_holder_never_a_waiter(client, sessions):
    holder, queued = row_lock_queue(sessions)
    sessions.idle_in_transaction()  # holds no lock anyone waits for

    [found] = blockers(client, sessions)

    assert found.pid == holder.info.backend_pid
    assert found.state == "idle in transaction"
    # On a row lock PostgreSQL blocks only the first waiter on the holder itself; the
    # others queue for that waiter's tuple lock. All three wait behind the holder.
    assert len(found.blocks) == 1 and set(found.blocks) <= {c.info.backend_pid for c in queued}
    assert set(found.behind) == {c.info.backend_pid for c in queued}
    assert db.blocked_sessions([found]) == 3
    # combinable: another application's filter finds none of it
    assert db.backends(client, db.BackendFilter(blocking=True, application="someone-else")) == []


def test_terminating_the_blocker_lets_the_waiters_finish(client, sessions):
    holder, queued = row_lock_queue(sessions)
    preview = blockers(client, sessions)

    report = db.signal_backends(client, "terminate", preview, blocking=True)

    assert [b.pid for b in report.signalled] == [holder.info.backend_pid]
    assert report.not_signalled == [] and report.still_connected == []
    sessions.wait_until(STATE_COUNT.format("state = 'idle'"), 3)  # every UPDATE went through
    sessions.wait_until(LOCK_WAITERS, 0)
    assert sessions.alive() == {c.info.backend_pid for c in queued}
    with psycopg.connect(sessions.dsn, autocommit=True) as probe:
        assert probe.execute(f"SELECT n FROM {sessions.table} WHERE id = 1").fetchone()[0] == 3


def test_a_holder_that_released_its_lock_since_the_preview_is_not_terminated(client, sessions):
    holder, _ = row_lock_queue(sessions)
    preview = blockers(client, sessions)
    holder.commit()  # releases the row; the waiters go through and nobody waits any more
    sessions.wait_until(LOCK_WAITERS, 0)

    report = db.signal_backends(client, "terminate", preview, blocking=True)

    assert report.signalled == []
    [(skipped, why)] = report.not_signalled
    assert skipped.pid == holder.info.backend_pid and why == "no longer blocks any session"
    assert holder.info.backend_pid in sessions.alive()


def test_without_a_lock_queue_the_blocking_filter_selects_nothing(client, sessions):
    sessions.idle_in_transaction()
    sessions.active()
    sessions.wait_until(STATE_COUNT.format("state = 'active'"), 1)
    assert blockers(client, sessions) == []


def test_blocking_is_a_filter_in_a_runbook(tmp_path):
    from ditsops.base.errors import RunbookError
    from ditsops.core.loader import load_runbook

    def step(filters: str) -> str:
        return (
            "name: sample\ntitle: Sample\nparams:\n  application: {type: string, default: dits-server}\n"
            "steps:\n  - id: kill-blocker\n    title: Kill\n    action: terminate-backends\n"
            f"    filters: {filters}\n"
        )

    path = tmp_path / "sample.yaml"
    for good in ("{blocking: true}", '{blocking: true, application: "{{ application }}"}'):
        path.write_text(step(good))
        assert load_runbook(path).steps[0].spec.filters["blocking"] is True
    for bad, problem in (
        ("{blocking: false}", "terminate-backends needs at least one filter"),
        ("{blocking: sometimes}", "blocking must be true or false, got 'sometimes'"),
    ):
        path.write_text(step(bad))
        with pytest.raises(RunbookError) as caught:
            load_runbook(path)
        assert any(f"{path}:9: " in p and problem in p for p in caught.value.problems), caught.value.problems
