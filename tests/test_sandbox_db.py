"""The sandbox's database side, driven through `ditsops sandbox` as a user would."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from ditsops.base.errors import DitsopsError, UsageError
from ditsops.cli.sandbox import app
from ditsops.sandbox import lifecycle
from ditsops.sandbox.pgcluster import PgCluster
from ditsops.sandbox.state import SandboxState, kill_now, load_state, process_alive, state_file
from tests.helpers import wait_until
from tests.sandboxfixtures import Sandbox

runner = CliRunner()

ACTIVITY_SQL = """
SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS clients,
       current_setting('max_connections')::int AS max_connections,
       count(*) FILTER (WHERE application_name = 'dits-server') AS dits,
       count(*) FILTER (WHERE application_name = 'dits-server'
                        AND state = 'idle in transaction') AS idle_in_transaction,
       count(*) FILTER (WHERE application_name = 'dits-server' AND state = 'active'
                        AND query LIKE 'SELECT pg_sleep%') AS sleeping,
       count(*) FILTER (WHERE application_name = 'dits-server'
                        AND wait_event_type = 'Lock') AS lock_waiters
FROM pg_stat_activity
"""


@pytest.fixture
def sandbox_home(isolated_home: Any, pg_bin_dir: Path) -> Iterator[Any]:
    """An isolated state dir; whatever a test leaves running is taken down afterwards."""
    yield isolated_home
    lifecycle.down()


def sandbox_cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def activity(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(ACTIVITY_SQL)
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def current_state() -> SandboxState:
    state = load_state()
    assert state is not None
    return state


def terminate(dsn: str, where: str) -> int:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE application_name = 'dits-server' AND {where}"
        ).fetchone()[0]


def test_up_status_down(sandbox_home: Any) -> None:
    output = sandbox_cli("up")
    state = current_state()
    postgres = state.components["postgres"]
    password = PgCluster.from_dict(postgres.details).password
    assert "Sandbox is up." in output
    assert f"postgresql://postgres:***@127.0.0.1:{postgres.port}/postgres" in output
    assert password not in output
    assert stat.S_IMODE(state_file().stat().st_mode) == 0o600
    assert (
        state.profile()["dsn"] == PgCluster.from_dict(postgres.details).dsn and state.profile()["production"] is False
    )
    assert activity(str(state.profile()["dsn"]))["max_connections"] == 70
    # Diagnostics run as ditsops_diag, a role the server says can do no harm (README, "The diagnostics role").
    from ditsops.core import connect
    from ditsops.core.config import load_settings

    settings = load_settings(profile="sandbox")
    assert str(settings.diagnostics_dsn).startswith("postgresql://ditsops_diag:")
    diagnostics = connect.diagnostics(settings)
    try:
        assert diagnostics.role is not None and diagnostics.role.harmless and diagnostics.role.role == "ditsops_diag"
    finally:
        diagnostics.close()
    assert str(settings.diagnostics_dsn).split(":")[2].split("@")[0] not in output

    status = sandbox_cli("status")
    assert "postgres" in status and "running" in status and str(postgres.pid) in status
    assert "No active faults." in status

    again = sandbox_cli("up")
    assert "already up" in again and current_state().components["postgres"].pid == postgres.pid

    down = sandbox_cli("down")
    assert "Sandbox is down." in down
    for component in state.components.values():  # every process stopped, every data dir gone
        assert not process_alive(component.pid), f"{component.name} (pid {component.pid}) still runs"
        assert component.data_dir and not Path(component.data_dir).exists(), component.data_dir
    assert not state_file().exists()
    assert "Sandbox is not up" in sandbox_cli("status")


def test_db_exhaustion_is_visible_relievable_and_cleared(sandbox: Sandbox) -> None:
    dsn = str(current_state().profile()["dsn"])

    output = sandbox_cli("fault", "db-exhaustion")
    assert "Injected db-exhaustion" in output and "DatabaseConnectionsExhausted" in output
    load_pid = current_state().faults["db-exhaustion"].pid
    assert process_alive(load_pid)
    assert "db-exhaustion" in sandbox_cli("status")

    # ditsops itself (a superuser) still gets in, and sees an exhausted database.
    seen = activity(dsn)
    assert seen["clients"] / seen["max_connections"] > 0.9
    assert seen["idle_in_transaction"] >= 18
    assert seen["sleeping"] >= 18
    assert seen["lock_waiters"] == 3

    # The runbook's fix: end the leaked transactions (the row lock holder among them).
    terminated = terminate(dsn, "state = 'idle in transaction'")
    assert terminated == seen["idle_in_transaction"]
    expected = seen["dits"] - terminated
    wait_until(lambda: activity(dsn)["dits"], 10, f"{expected} dits sessions", until=lambda n: n == expected)
    time.sleep(1.5)  # long enough for a reconnecting client to have come back
    relieved = activity(dsn)
    assert relieved["dits"] == expected
    assert relieved["idle_in_transaction"] == 0 and relieved["lock_waiters"] == 0
    assert relieved["clients"] / relieved["max_connections"] < 0.9

    cleared = sandbox_cli("fault", "--clear")
    assert "Cleared fault db-exhaustion." in cleared
    assert activity(dsn)["dits"] == 0
    assert not process_alive(load_pid)
    assert current_state().faults == {}


def test_load_exits_once_all_its_sessions_are_terminated(sandbox: Sandbox) -> None:
    dsn = str(current_state().profile()["dsn"])
    sandbox_cli("fault", "db-exhaustion")
    load_pid = current_state().faults["db-exhaustion"].pid

    assert terminate(dsn, "true") >= 40
    wait_until(lambda: not process_alive(load_pid), 10, "the load process exited")
    assert activity(dsn)["dits"] == 0
    assert "ended" in sandbox_cli("status")
    assert "Cleared fault db-exhaustion." in sandbox_cli("fault", "db-exhaustion", "--clear")


def test_down_cleans_up_after_a_crashed_sandbox(sandbox_home: Any) -> None:
    sandbox_cli("up")
    sandbox_cli("fault", "db-exhaustion")
    state = current_state()
    postgres, load_pid = state.components["postgres"], state.faults["db-exhaustion"].pid
    assert postgres.pid and load_pid
    kill_now(postgres.pid, whole_group=True)  # the server crashes under the load

    assert "Sandbox is degraded" in sandbox_cli("status")
    output = sandbox_cli("down")
    assert "Sandbox is down." in output
    assert not process_alive(load_pid) and not process_alive(postgres.pid)
    assert postgres.data_dir and not Path(postgres.data_dir).exists()
    assert not state_file().exists()


def test_up_replaces_a_dead_sandbox(sandbox_home: Any) -> None:
    sandbox_cli("up")
    old = current_state().components["postgres"]
    assert old.pid
    kill_now(old.pid, whole_group=True)

    assert "a dead one was cleaned up first" in sandbox_cli("up")
    new = current_state().components["postgres"]
    assert new.pid != old.pid and process_alive(new.pid)
    assert old.data_dir and not Path(old.data_dir).exists()


def test_fault_needs_a_running_sandbox_and_a_known_name(isolated_home: Any) -> None:
    with pytest.raises(DitsopsError, match="sandbox is not up"):
        sandbox_cli("fault", "db-exhaustion")
    with pytest.raises(UsageError, match="known faults: .*db-exhaustion"):
        sandbox_cli("fault", "disk-full")
    with pytest.raises(UsageError, match="name a fault"):
        sandbox_cli("fault")
    assert "No active faults." in sandbox_cli("fault", "--clear")


def test_every_command_help_ends_with_an_example() -> None:
    for command in ("up", "down", "status", "fault"):
        output = runner.invoke(app, [command, "--help"]).output
        assert f"Example: ditsops sandbox {command}" in output
