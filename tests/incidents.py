"""Walking a sandbox incident as the on-call engineer does: inject the fault, wait for its
alert, run `runbook --alert NAME` with the runbook's defaults, and check the verdict against
what Prometheus then says about the alert.

The verdict rule under test (core/verdict.py): exit 0 only when the runbook's verify steps
passed, and then the alert must stop firing; exit 3 names what still fails and the human
task. Each test clears its fault and waits for its alert to resolve, so the next incident
in the same sandbox starts from a quiet system.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import pexpect

from ditsops.sandbox.simcontrol import FAULT_ALERTS
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.sandboxfixtures import WATCH, fault, firing_within, prometheus_alerts, resolved_within

ALERTS = {**FAULT_ALERTS, "bad-deploy": "HighErrorRate"}
FIRING_TIMEOUT = 120.0  # inject -> firing measured at 2-17 s; generous for a loaded machine
# How long an alert may take to stop firing once the runbook verified the fix: the rule's
# window draining below the threshold plus an evaluation and Alertmanager's resolve.
RESOLVE_TIMEOUT = 120.0


@dataclass
class Walk:
    exit_code: int
    document: dict
    alert: str


def enough_history(prometheus: str, samples: int = 25) -> bool:
    """Whether Prometheus holds `samples` scrapes of the server in the last minute: rate
    baselines (the memory runbook's traffic ratio) read true only after that — rate()
    under-reads until its 10 s window is full, and the baseline averages those first
    points in, so a few windows' worth of history."""
    import httpx

    query = 'min(count_over_time(up{job="dits-server"}[1m]))'
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
    result = body["data"]["result"]
    return bool(result) and float(result[0]["value"][1]) >= samples


def start_incident(name: str, prometheus: str) -> str:
    alert = ALERTS[name]
    wait_until(lambda: enough_history(prometheus), 120, "25 s of Prometheus history", **WATCH)
    wait_until(
        lambda: alert not in prometheus_alerts(prometheus), RESOLVE_TIMEOUT, f"{alert} quiet before {name}", **WATCH
    )
    fault(name)
    firing_within(prometheus, {alert}, FIRING_TIMEOUT)
    return alert


def end_incident(name: str, prometheus: str) -> None:
    fault(name, "--clear")
    resolved_within(prometheus, {ALERTS[name]}, RESOLVE_TIMEOUT)


def walk_with_yes(alert: str) -> Walk:
    """`ditsops --profile sandbox runbook --alert ALERT --non-interactive --yes -o json`."""
    done = run_cli(
        "--profile",
        "sandbox",
        "runbook",
        "--alert",
        alert,
        "--non-interactive",
        "--yes",
        "--output",
        "json",
        timeout=600,
    )
    assert done.stdout.strip(), f"runbook --alert {alert}: no JSON (exit {done.returncode}): {done.stderr[-2000:]}"
    document = json.loads(done.stdout)
    document["by_id"] = {step["id"]: step for step in document["steps"]}
    return Walk(done.returncode, document, alert)


def assert_resolved(walk: Walk, prometheus: str) -> None:
    assert walk.exit_code == 0, f"{walk.alert}: exit {walk.exit_code}: {walk.document['reason']}"
    assert walk.document["reason"].startswith("resolved: verified by")
    resolved_within(prometheus, {walk.alert}, RESOLVE_TIMEOUT)


def assert_needs_a_human(walk: Walk, task: str) -> None:
    assert walk.exit_code == 3, f"{walk.alert}: exit {walk.exit_code}: {walk.document['reason']}"
    reason = walk.document["reason"]
    assert reason.startswith("not resolved: ") and f"needs {task}" in reason, reason


def walk_on_a_terminal(alert: str, answer: str, env_extra: dict[str, str] | None = None) -> tuple[int, str]:
    """`runbook --alert ALERT` in a pseudo-terminal: every fix answered `answer` (y or n),
    every manual step skipped. Returns (exit code, everything shown, whitespace folded so
    that a sentence rich wrapped at the terminal's width reads as one)."""
    env = {**os.environ, "COLUMNS": "120", **(env_extra or {})}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "--profile", "sandbox", "runbook", "--alert", alert],
        env=env,
        encoding="utf-8",
        timeout=400,
        dimensions=(50, 120),
    )
    seen = []
    try:
        while True:
            index = child.expect([r"\[y/N\]", r"Done\? ", pexpect.EOF])
            seen.append(child.before or "")
            if index == 0:
                child.sendline(answer)
            elif index == 1:
                child.sendline("s")
            else:
                break
    finally:
        child.close()
    return child.exitstatus, " ".join("".join(seen).split())
