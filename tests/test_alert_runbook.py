"""`runbook --alert NAME` against a real Alertmanager holding alerts posted to its API."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pexpect
import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken, wait_until

INSTALL = "apt-get install --no-install-recommends prometheus-alertmanager"


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    require_binary("prometheus-alertmanager", INSTALL)
    directory = tmp_path_factory.mktemp("am")
    service = retry_if_port_taken(lambda: promstack.start_alertmanager(directory))
    yield service
    promstack.stop(service.pid, service.cmdline_marker)


def post_alerts(url: str, *label_sets: dict[str, str]) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": {"severity": "critical", **labels},
            "annotations": {"summary": "High error rate detected", "runbook": "high-error-rate"},
            "startsAt": (now - timedelta(minutes=20)).isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
        }
        for labels in label_sets
    ]
    httpx.post(f"{url}/api/v2/alerts", json=body, timeout=5).raise_for_status()


def wait_alerts(url: str, count: int) -> None:
    wait_until(
        lambda: len(httpx.get(f"{url}/api/v2/alerts", timeout=5).json()),
        10,
        f"{count} alerts in Alertmanager",
        until=lambda n: n >= count,
        interval=0.1,
    )


def test_alerts_lists_them_with_the_runbook(alertmanager, isolated_home):
    post_alerts(alertmanager.url, {"alertname": "HighErrorRate", "job": "dits-server"})
    wait_alerts(alertmanager.url, 1)
    done = run_cli("alerts", "-o", "json", env={"DITSOPS_ALERTMANAGER_URL": alertmanager.url})
    assert done.returncode == 0, done.stderr
    [alert] = [
        a for a in json.loads(done.stdout) if a["alertname"] == "HighErrorRate" and a["labels"]["job"] == "dits-server"
    ]
    assert alert["state"] == "firing" and alert["command"] == "ditsops runbook --alert HighErrorRate"


def test_several_firing_without_a_terminal_is_a_usage_error(alertmanager, isolated_home):
    post_alerts(
        alertmanager.url,
        {"alertname": "HighErrorRate", "job": "dits-server"},
        {"alertname": "HighErrorRate", "job": "dits-canary"},
    )
    wait_alerts(alertmanager.url, 2)
    done = run_cli("runbook", "--alert", "HighErrorRate", env={"DITSOPS_ALERTMANAGER_URL": alertmanager.url})
    assert done.returncode == 2
    assert "HighErrorRate alerts are firing" in done.stderr and "job=dits-canary" in done.stderr


def test_the_chosen_alert_fills_parameters_and_starts_the_escalation_clock(alertmanager, isolated_home):
    post_alerts(
        alertmanager.url,
        {"alertname": "HighErrorRate", "job": "dits-server"},
        {"alertname": "HighErrorRate", "job": "dits-canary"},
    )
    wait_alerts(alertmanager.url, 2)
    env = {**os.environ, "DITSOPS_ALERTMANAGER_URL": alertmanager.url, "COLUMNS": "160"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "runbook", "--alert", "HighErrorRate", "--dry-run"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 160),
    )
    child.expect(r"Which one\? \[1-2\]")
    before = child.before
    choice = "1" if before.index("job=dits-canary") < before.index("job=dits-server") else "2"
    child.sendline(choice)
    child.expect("job=dits-canary")  # the parameter, shown in the header
    child.expect("Page the secondary on-call")  # 20 minutes in: the 15m reminder is due at once
    while child.expect([r"Done\?", pexpect.EOF]) == 0:
        child.sendline("y")
    record = sorted((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)[-1]
    start = json.loads(record.read_text().splitlines()[0])
    assert start["params"]["job"] == "dits-canary"


def test_no_runbook_for_an_alert(alertmanager, isolated_home):
    done = run_cli("runbook", "--alert", "NoSuchAlert", env={"DITSOPS_ALERTMANAGER_URL": alertmanager.url})
    assert done.returncode == 2 and "no runbook answers alert 'NoSuchAlert'" in done.stderr


def test_the_suggested_command_carries_the_profile_and_finds_the_alert_when_pasted(
    alertmanager, isolated_home, tmp_path
):
    post_alerts(alertmanager.url, {"alertname": "LargeUpload", "job": "dits-server"})
    wait_alerts(alertmanager.url, 1)
    config = tmp_path / "ditsops.toml"
    config.write_text(f'[profiles.oncall]\nalertmanager_url = "{alertmanager.url}"\n')
    fresh = {k: v for k, v in os.environ.items() if not k.startswith("DITSOPS_")}
    done = run_cli("--config", str(config), "--profile", "oncall", "alerts", env={**fresh, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    # The alert's `runbook` annotation names another runbook than the one answering its
    # name: the annotation wins, so the suggestion names the runbook, not --alert.
    suggested = f"ditsops --config {config} --profile oncall runbook high-error-rate"
    # Printed whole on its own line at 80 columns, not cut inside the table.
    assert f"run: {suggested}" in done.stdout
    import shlex

    pasted = run_cli(*shlex.split(suggested)[1:], "--non-interactive", env=fresh)
    # The profile came along (a pasted command without it would not have read this config
    # file); it has no Prometheus or cluster, and the run says so instead of "resolved".
    assert "profile oncall" in pasted.stdout, pasted.stdout + pasted.stderr
    assert "no target configured" in pasted.stdout
    assert pasted.returncode == 2
