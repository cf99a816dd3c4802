"""Actions cut short after the backend accepted them — the API server gone during the
rollout wait, Ctrl-C during the wait — leave a true record: "applied" with its undo, and
the message on screen says the same. A second Ctrl-C exits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import wait_until

NS = "dits"


@pytest.fixture
def slow_rollouts(tmp_path: Path, isolated_home):
    """An API whose new pods take long to become ready, so a rollout wait lasts."""
    server = KubeAPIServer(ready_delay=0.1).start()
    server.seed_dits()
    server.controller.kubelet.ready_delay = 600.0  # from now on: the rollout wait outlasts the test
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server, {**os.environ, "KUBECONFIG": str(kubeconfig), "COLUMNS": "200"}
    finally:
        server.stop()


def records(isolated_home) -> list[Path]:
    return sorted((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"))


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_event(isolated_home, name: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    def recorded() -> list[dict[str, Any]] | None:
        for path in records(isolated_home):
            found = events(path)
            if any(e["event"] == name for e in found):
                return found
        return None

    return wait_until(recorded, timeout, f"a {name!r} event in the record")


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ditsops", *args],
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_api_lost_during_the_rollout_wait_is_recorded_as_applied(slow_rollouts, isolated_home):
    server, env = slow_rollouts
    child = start(env, "k8s", "set-env", "dits-server", "DATABASE_POOL_SIZE=80", "--yes")
    applied = next(e for e in wait_for_event(isolated_home, "applied") if e["event"] == "applied")
    assert applied["undo"].endswith("k8s set-env dits-server DATABASE_POOL_SIZE=20")  # the seed's value
    server.stop()  # the API goes away while ditsops waits for the rollout
    out, err = child.communicate(timeout=120)
    assert child.returncode == 4, out + err  # the target became unreachable: said so, with exit 4
    found = events(records(isolated_home)[-1])
    step = next(e for e in found if e["event"] == "step")
    assert step["status"] == "applied" and "then:" in step["summary"]
    assert step["result"]["undo"] == applied["undo"]
    assert "the change was applied, then:" in out


def test_ctrl_c_during_the_rollout_wait_says_what_was_applied(slow_rollouts, isolated_home):
    server, env = slow_rollouts
    child = start(env, "k8s", "set-env", "dits-server", "DATABASE_POOL_SIZE=80", "--yes")
    applied = next(e for e in wait_for_event(isolated_home, "applied") if e["event"] == "applied")
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "interrupted after step k8s-set-env was applied" in err and applied["undo"] in " ".join(err.split())
    end = events(records(isolated_home)[-1])[-1]
    assert end["event"] == "run-end" and "was applied" in end["reason"]
    container = server.get("deployments", NS, "dits-server")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "DATABASE_POOL_SIZE", "value": "80"} in container["env"]


TERMINATE = """
name: kill
title: Terminate the leaked transactions
steps:
  - id: kill
    title: Terminate them
    action: terminate-backends
    filters: {{application: {app}, state: idle in transaction}}
"""


def test_ctrl_c_after_the_terminate_was_sent_records_which_backends_were_hit(
    tmp_path, pg_dsn, sessions, isolated_home, mocker
):
    """Ctrl-C lands while ditsops waits for the terminated backends to exit (the only
    moment a person can interrupt a terminate: the signals go out in one statement).
    Hard to time for real, so the wait is where the interruption is injected."""
    from rich.console import Console

    from ditsops.base.errors import Interrupted
    from ditsops.cli.prompts import ConsoleInteraction
    from ditsops.clients.postgres import PostgresClient
    from ditsops.core.config import load_settings
    from ditsops.core.engine import RunOptions, run_runbook
    from ditsops.core.loader import load_runbook
    from ditsops.core.record import RunRecord, read_events

    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    path = tmp_path / "kill.yaml"
    path.write_text(TERMINATE.format(app=sessions.app))
    named = PostgresClient.named

    def interrupted_wait(self, name, params=None):
        if name == "still_present":
            raise KeyboardInterrupt
        return named(self, name, params)

    mocker.patch.object(PostgresClient, "named", interrupted_wait)
    settings = load_settings(options={"dsn": pg_dsn})
    record = RunRecord.create("kill", settings.secrets())
    ui = ConsoleInteraction(Console(file=open(os.devnull, "w"), width=120))
    with pytest.raises(Interrupted) as caught:
        run_runbook(load_runbook(path), {}, settings, ui, RunOptions(interactive=False, assume_yes=True), record, [])
    assert "interrupted after step kill was applied: terminated 3 backends" in caught.value.message
    found = read_events(record.path)
    applied = next(e for e in found if e["event"] == "applied")
    assert set(applied["terminated"]) == victims
    assert found[-1]["event"] == "run-end" and "was applied" in found[-1]["reason"]
    sessions.wait_until(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND state = 'idle in transaction'", 0
    )  # they really were hit


def test_the_report_of_an_interrupted_run_shows_the_applied_change_and_its_undo(slow_rollouts, isolated_home):
    server, env = slow_rollouts
    child = start(env, "k8s", "set-env", "dits-server", "DATABASE_POOL_SIZE=80", "--yes")
    applied = next(e for e in wait_for_event(isolated_home, "applied") if e["event"] == "applied")
    child.send_signal(signal.SIGINT)
    child.communicate(timeout=60)
    report = subprocess.run(
        [sys.executable, "-m", "ditsops", "runbook", "report"], env=env, text=True, capture_output=True, timeout=60
    )
    assert report.returncode == 0, report.stderr
    assert "accepted by the backend" in report.stdout
    assert "How to undo what was applied" in report.stdout
    assert f"    undo: {applied['undo']}" in report.stdout.splitlines()  # the command alone, whole, to paste
    assert "was applied" in report.stdout  # the run-end line says the interruption came after it
