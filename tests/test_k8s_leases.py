"""Two operators on one deployment: while a destructive step waits for its answer, ditsops
holds a coordination.k8s.io/v1 Lease that real kubectl shows; a second ditsops refuses
(exit 5) naming the holder, unless told --ignore-lease; the lease goes with the run, and
expires by itself when the run is killed with -9."""

from __future__ import annotations

import os
import signal
import sys

import pexpect
import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.kubeapi_fixtures import Kubectl

NS = "dits"
LEASE = "ditsops-dits-server"


@pytest.fixture
def server(seeded: KubeAPIServer) -> KubeAPIServer:
    """The shared seeded in-memory API (tests/kubeapi_fixtures.py); `kubectl` talks to it."""
    return seeded


@pytest.fixture
def env(kubectl: Kubectl, isolated_home) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), "COLUMNS": "200", "USER": "oncall-ana"}


def waiting_at_the_prompt(env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "k8s", "scale", "dits-server", "--replicas", "5"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    child.expect(r"\[y/N\]")
    return child


def leases(server: KubeAPIServer) -> list[dict]:
    return server.list("leases", NS)


def test_the_lease_is_visible_and_stops_a_second_operator(server, kubectl, env):
    first = waiting_at_the_prompt(env)
    shown = kubectl("get", "lease", "-n", NS).stdout
    assert LEASE in shown and "oncall-ana@" in shown
    second = run_cli("k8s", "scale", "dits-server", "--replicas", "4", "--yes", env={**env, "USER": "oncall-bo"})
    assert second.returncode == 5, second.stdout + second.stderr
    said = " ".join(second.stdout.split())
    assert "is held by oncall-ana@" in said and "step k8s-scale" in said
    assert server.get("deployments", NS, "dits-server")["spec"]["replicas"] == 3
    first.sendline("n")
    first.expect(pexpect.EOF)
    first.close()
    assert not leases(server)  # released with the run
    assert LEASE not in kubectl("get", "lease", "-n", NS).stdout


def test_ignore_lease_goes_on_and_is_recorded(server, kubectl, env, isolated_home):
    first = waiting_at_the_prompt(env)
    second = run_cli(
        "--ignore-lease",
        "k8s",
        "scale",
        "dits-server",
        "--replicas",
        "4",
        "--yes",
        "-o",
        "json",
        env={**env, "USER": "oncall-bo"},
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert server.get("deployments", NS, "dits-server")["spec"]["replicas"] == 4
    # The first engineer's lease was taken over: their `y` no longer acts, and they are told.
    first.sendline("y")
    first.expect("lost the lease on deployment")
    first.expect(pexpect.EOF)
    first.close()
    assert server.get("deployments", NS, "dits-server")["spec"]["replicas"] == 4
    runs = sorted((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    texts = [p.read_text() for p in runs]
    assert any('"event": "lease-override"' in t and "--ignore-lease" in t for t in texts)


def test_a_killed_run_leaves_a_lease_that_expires(server, kubectl, env):
    first = waiting_at_the_prompt(env)
    os.kill(first.pid, signal.SIGKILL)
    first.close()
    assert leases(server), "nobody released it: it stays until it expires"
    blocked = run_cli("k8s", "scale", "dits-server", "--replicas", "4", "--yes", env=env)
    assert blocked.returncode == 5
    # Nobody renews it any more: within its 30 s duration (plus a margin) it no longer counts.
    wait_until(
        lambda: run_cli("k8s", "scale", "dits-server", "--replicas", "4", "--yes", env=env),
        90,
        "the expired lease no longer counting",
        until=lambda done: done.returncode == 0,
        interval=1,
    )
    assert server.get("deployments", NS, "dits-server")["spec"]["replicas"] == 4
