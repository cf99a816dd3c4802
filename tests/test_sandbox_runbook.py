"""The main job end to end: the sandbox with db-exhaustion, walked with the shipped
db-connections-exhausted runbook, relieved by its confirmed terminate step."""

from __future__ import annotations

import json
import os
import sys
import time

import pexpect
import pytest

from tests.cli import run_cli
from tests.sandboxfixtures import Sandbox, firing_within


@pytest.fixture
def exhausted(sandbox: Sandbox):
    """The module's sandbox with db-exhaustion injected and aged past older_than=1s."""
    injected = run_cli("sandbox", "fault", "db-exhaustion")
    assert injected.returncode == 0, injected.stdout + injected.stderr
    try:
        time.sleep(1.5)
        yield sandbox
    finally:
        cleared = run_cli("sandbox", "fault", "--clear")
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr


def used_percent() -> float:
    done = run_cli("--profile", "sandbox", "db", "activity", "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["percent_used"]


def test_confirmed_runbook_relieves_the_exhaustion_with_its_defaults(exhausted):
    assert used_percent() > 90
    # As on call: the runbook runs once the alert fires, not the instant the leak starts.
    firing_within(exhausted.prometheus, {"DatabaseConnectionsExhausted"}, 120)
    done = run_cli("--profile", "sandbox", "runbook", "db-connections-exhausted", "--yes", "--output", "json")
    data = json.loads(done.stdout)
    assert done.returncode == 0, data["reason"]
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["connections"]["status"] == "failing"
    # The leaked transactions (idle in transaction for more than 5 s) are the fix; the
    # hour-long queries are younger than the default 5 m and are spared by that step...
    assert steps["kill-idle-transactions"]["status"] == "applied"
    assert len(steps["kill-idle-transactions"]["result"]["terminated"]) >= 18
    assert steps["kill-long-queries"]["status"] == "nothing-to-do"
    assert steps["recount"]["status"] == "ok"
    # ...yet still hold a third of the slots: counted, then terminated when offered (--yes).
    assert steps["queries-still-running"]["status"] == "failing"
    assert steps["kill-young-queries"]["status"] == "applied"
    assert data["reason"].startswith("resolved: verified by"), data["reason"]
    assert used_percent() < 80


def test_without_a_terminal_nothing_is_terminated_and_exit_is_5(exhausted):
    done = run_cli("--profile", "sandbox", "runbook", "db-connections-exhausted", "--set", "older_than=1s")
    assert done.returncode == 5, done.stdout + done.stderr
    assert used_percent() > 90


def answer_all(child, answer: str) -> str:
    """Tick off the remaining manual steps and answer every confirmation until the run ends;
    what the walk showed meanwhile (for the assertion's message)."""
    seen = []
    while (index := child.expect([r"Done\?", r"\[y/N\]", pexpect.EOF])) != 2:
        seen.append(child.before or "")
        child.sendline("y" if index == 0 else answer)
    seen.append(child.before or "")
    child.close()
    return "".join(seen)


def test_interactive_walk_n_then_y(exhausted):
    env = {**os.environ, "COLUMNS": "160"}
    args = [
        "-m",
        "ditsops",
        "--profile",
        "sandbox",
        "runbook",
        "db-connections-exhausted",
        "--set",
        "older_than=1s",
        "--set",
        "idle_older_than=1s",
    ]

    child = pexpect.spawn(sys.executable, args, env=env, encoding="utf-8", timeout=60, dimensions=(50, 160))
    child.expect("Connections by state against max_connections")
    child.expect("above fail threshold")
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect("This will terminate")
    child.expect(r"\[y/N\]")
    child.sendline("n")
    child.expect("declined")
    answer_all(child, "n")
    assert child.exitstatus == 3  # declined: not resolved
    assert used_percent() > 90

    child = pexpect.spawn(sys.executable, args, env=env, encoding="utf-8", timeout=60, dimensions=(50, 160))
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(r"terminated \d+ of \d+ previewed backends")
    shown = answer_all(child, "y")
    assert child.exitstatus == 0, shown[-3000:]
    assert used_percent() < 50
    report = run_cli("runbook", "report")
    assert "decision: approved by" in report.stdout and "answered y" in report.stdout
