"""Monitoring goes down in incidents too: `alerts` and `runbook --alert` ask Alertmanager
when Prometheus cannot be reached (saying which answered and what is missing), and only
when neither answers is it exit 4. A real Alertmanager holding posted alerts; the "down"
Prometheus is a port bound and never listened on (connection refused, as when stopped)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken, wait_until

INSTALL = "apt-get install --no-install-recommends prometheus-alertmanager"
FIRING = {"HighErrorRate": "critical", "DatabaseConnectionsExhausted": "critical"}


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    require_binary("prometheus-alertmanager", INSTALL)
    service = retry_if_port_taken(lambda: promstack.start_alertmanager(tmp_path_factory.mktemp("am")))
    now = datetime.now(UTC)
    body = [
        {
            "labels": {"alertname": name, "severity": severity, "job": "dits-server"},
            "annotations": {"summary": f"{name} for the outage tests"},
            "startsAt": (now - timedelta(minutes=3)).isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
        }
        for name, severity in FIRING.items()
    ]
    httpx.post(f"{service.url}/api/v2/alerts", json=body, timeout=5).raise_for_status()
    wait_until(
        lambda: {a["labels"]["alertname"] for a in httpx.get(f"{service.url}/api/v2/alerts", timeout=5).json()},
        10,
        "the posted alerts in Alertmanager",
        until=lambda names: set(FIRING) <= names,
    )
    yield service
    promstack.stop(service.pid, service.cmdline_marker)


@pytest.fixture(scope="module")
def dead_url() -> Iterator[str]:
    """A URL where nothing answers: the port is ours (bound), nobody listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def env(alertmanager, dead_url, isolated_home) -> dict[str, str]:
    return {"DITSOPS_ALERTMANAGER_URL": alertmanager.url, "DITSOPS_PROMETHEUS_URL": dead_url, "COLUMNS": "80"}


def test_alerts_with_prometheus_down_lists_the_alerts_from_alertmanager(env, dead_url):
    done = run_cli("alerts", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert {alert["alertname"] for alert in json.loads(done.stdout)} == set(FIRING)
    said = " ".join(done.stderr.split())
    assert "alerts from Alertmanager only (pending alerts not shown)" in said and dead_url in said
    piped = run_cli("alerts", env=env)  # at 80 columns, into a pipe
    assert piped.returncode == 0 and "HighErrorRate" in piped.stdout and "DatabaseConnectionsExhausted" in piped.stdout
    assert "Traceback" not in piped.stderr


def test_alerts_with_both_down_is_unreachable(dead_url, isolated_home):
    done = run_cli("alerts", env={"DITSOPS_ALERTMANAGER_URL": dead_url, "DITSOPS_PROMETHEUS_URL": dead_url})
    assert done.returncode == 4 and done.stderr.startswith("ditsops: ") and "Traceback" not in done.stderr


def test_runbook_by_alert_with_prometheus_down_finds_the_alert_in_alertmanager(env):
    done = run_cli("runbook", "--alert", "HighErrorRate", "--non-interactive", env=env, timeout=120)
    assert "alerts from Alertmanager only" in " ".join(done.stderr.split()), done.stderr
    assert "is not firing" not in done.stderr
    assert "High error rate" in done.stdout
    # its error rate cannot be read: the rollback's condition is unknown, never silently skipped
    assert done.returncode == 4, done.stdout[-2000:]
