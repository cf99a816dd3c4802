"""Every wait is bounded: DITSOPS_HTTP_TIMEOUT is a total deadline per network call.

The attack: a server that sends its headers at once, then one byte a second. Every read
succeeds within any per-read timeout, so without a total deadline `prom query`, `alerts`,
`health`, `silence list` and the Kubernetes commands would hang for minutes. With one,
each exits 4 with one line naming the service and the deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.helpers import wait_until
from tests.httpcapture import SlowDripServer

# Loopback stand-ins for Prometheus, Alertmanager and Dits: these tests need a service.
pytestmark = pytest.mark.services

DEADLINE = 3
# What the cut itself may add to the deadline, once start-up is taken out (see `waited`).
CUT_MARGIN = 2.5
# An absolute bound too, for a heavily loaded machine: far below "minutes".
START_UP_MARGIN = 15.0


@pytest.fixture
def drip() -> Iterator[SlowDripServer]:
    server = SlowDripServer(seconds=60)
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed(*args: str, env: dict[str, str]) -> tuple[float, float, object]:
    """(seconds taken, seconds waited beyond start-up, the process).

    The same command against a closed port (refused at once) measures start-up, imports and
    exit on this machine right now: what a loaded machine adds is in both runs.
    """
    closed = {k: v.replace(v.rsplit(":", 1)[-1], str(closed_port())) if "127.0.0.1" in v else v for k, v in env.items()}
    began = time.monotonic()
    run_cli(*args, env={"DITSOPS_HTTP_TIMEOUT": str(DEADLINE), **closed}, timeout=60)
    baseline = time.monotonic() - began
    began = time.monotonic()
    done = run_cli(*args, env={"DITSOPS_HTTP_TIMEOUT": str(DEADLINE), **env}, timeout=60)
    took = time.monotonic() - began
    return took, took - baseline, done


@pytest.mark.parametrize(
    ("args", "setting", "service"),
    [
        (("prom", "query", "up"), "DITSOPS_PROMETHEUS_URL", "Prometheus"),
        (("alerts",), "DITSOPS_ALERTMANAGER_URL", "Alertmanager"),
        (("health",), "DITSOPS_DITS_URL", "Dits server"),
        (("silence", "list"), "DITSOPS_ALERTMANAGER_URL", "Alertmanager"),
    ],
    ids=["prom-query", "alerts", "health", "silence-list"],
)
def test_a_slow_drip_is_cut_at_the_total_deadline(drip, isolated_home, args, setting, service) -> None:
    took, waited, done = timed(*args, env={setting: drip.url})
    assert drip.connections >= 1  # it really talked to the dripping server
    assert done.returncode == 4, done.stdout + done.stderr
    assert waited < DEADLINE + CUT_MARGIN, f"{' '.join(args)} waited {waited:.1f}s with a {DEADLINE}s deadline"
    assert took < DEADLINE + START_UP_MARGIN
    [line] = done.stderr.splitlines()
    assert line == (
        f"ditsops: {service} at {drip.url} did not answer within {DEADLINE}s (total deadline, DITSOPS_HTTP_TIMEOUT)"
    )


def test_the_deadline_is_total_not_per_read(drip, isolated_home) -> None:
    """Each read of the drip succeeds within a second; the total is what cuts, in-process."""
    from ditsops.base.errors import TargetUnreachable
    from ditsops.core import connect
    from ditsops.core.config import Settings
    from ditsops.core.health import check_health

    client = connect.dits(Settings(dits_url=drip.url, http_timeout=2))
    began = time.monotonic()
    with pytest.raises(TargetUnreachable, match=r"did not answer within 2s \(total deadline"):
        check_health(client)
    assert 2 <= time.monotonic() - began < 2 + 1.5
    client.close()


def kubeconfig_for(tmp_path: Path, url: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "drip", "cluster": {"server": url}}],
        "users": [{"name": "drip", "user": {"token": "KubeToken123"}}],
        "contexts": [{"name": "drip", "context": {"cluster": "drip", "user": "drip", "namespace": "dits"}}],
        "current-context": "drip",
    }
    path = tmp_path / "kubeconfig-drip"
    path.write_text(json.dumps(config))
    return path


def test_the_kubernetes_client_is_cut_at_the_total_deadline(drip, tmp_path, isolated_home) -> None:
    config = kubeconfig_for(tmp_path, drip.url)
    began = time.monotonic()
    done = run_cli("k8s", "status", "dits-server", env={"KUBECONFIG": str(config), "DITSOPS_HTTP_TIMEOUT": "3"})
    took = time.monotonic() - began
    assert drip.connections >= 1
    assert done.returncode == 4, done.stdout + done.stderr
    assert took < DEADLINE + START_UP_MARGIN, f"k8s status took {took:.1f}s with a {DEADLINE}s deadline"
    [line] = done.stderr.splitlines()
    assert line == (
        f"ditsops: the Kubernetes API at {drip.url} did not answer within {DEADLINE}s "
        "(total deadline, DITSOPS_HTTP_TIMEOUT)"
    )
    assert "KubeToken123" not in done.stdout + done.stderr


def test_the_kubernetes_client_in_process_returns_at_the_deadline(drip, tmp_path, isolated_home, monkeypatch):
    """The client itself (not only the command) gives up on time, with TargetUnreachable."""
    from ditsops.base.errors import TargetUnreachable
    from ditsops.core import connect
    from ditsops.core.config import load_settings

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_for(tmp_path, drip.url)))
    monkeypatch.setenv("DITSOPS_HTTP_TIMEOUT", "2")
    client = connect.kube(load_settings())
    began = time.monotonic()
    with pytest.raises(TargetUnreachable, match="did not answer within 2s"):
        client.get("deployments", "dits-server")
    assert time.monotonic() - began < 2 + 1.5
    client.close()


def test_ctrl_c_leaves_dash_while_its_queries_still_hang(isolated_home) -> None:
    # Every panel's query hangs on a server that drips for two minutes, under a ten-minute
    # deadline: Ctrl-C must leave at once, not wait for the queries (a pool would join them).
    server = SlowDripServer(seconds=120)
    try:
        env = {**os.environ, "DITSOPS_PROMETHEUS_URL": server.url, "DITSOPS_HTTP_TIMEOUT": "600", "COLUMNS": "100"}
        child = subprocess.Popen(
            # job given: its label_values() query would otherwise hang first, alone.
            [sys.executable, "-m", "ditsops", "dash", "overview", "--var", "job=dits-server"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: server.connections >= 8, 60, "the dashboard's queries in flight")
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=60)
        finally:
            child.kill()
        assert child.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err, err
        assert not server._stop.is_set()  # the server was still dripping: nothing waited it out
    finally:
        server.close()
