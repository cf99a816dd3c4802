"""Each sandbox fault ends with the fix a production engineer would apply, seen in Prometheus.

The worker's shared sandbox; the tests run in file order, one incident at a time (the
alerts aggregate by job, so two incidents would water each other down):
  restart (ditsops k8s restart)  ends service-down, and injecting it again re-arms it;
  scaling out                    ends latency, scaling in brings it back;
  DATABASE_POOL_SIZE=100         lowers the pool's share under db-exhaustion.
The other fixes (restart for error-spike and memory-high, terminating the lock holder, a
GC job from the CronJob) are walked through their runbooks in tests/test_incidents_*.py.
A fault a fix ended stays requested but shows as ended in `ditsops sandbox status`, and
injecting it again arms it again. How long each fix took is printed at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import httpx
import pytest

from ditsops.sandbox import faults as fault_registry
from ditsops.sandbox.rules import SANDBOX_WINDOW
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until
from tests.sandboxfixtures import (
    WATCH,
    Sandbox,
    fault,
    firing_within,
    only_firing,
    resolved_within,
)

FIRE_WITHIN = 60.0
RESOLVE_WITHIN = 60.0
MEASURED: dict[str, float] = {}  # fix -> seconds from applying it to the alert resolved


@pytest.fixture(scope="module")
def kubectl(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory):
    binary = require_binary("kubectl", "apt-get install kubectl (or download v1.32 from dl.k8s.io)")
    cache = tmp_path_factory.mktemp("kube-cache")

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(binary), "--kubeconfig", sandbox.kubeconfig, "--cache-dir", str(cache), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(cache)},
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    return run


def alert_of(name: str) -> str:
    return fault_registry.FAULTS[name].alert


def simulator_document(sandbox: Sandbox) -> dict | None:
    try:
        return httpx.get(f"{sandbox.url('simulator')}/sandbox/faults", timeout=2).json()
    except httpx.TransportError:
        return None


def query(sandbox: Sandbox, promql: str) -> float | None:
    body = httpx.get(f"{sandbox.prometheus}/api/v1/query", params={"query": promql}, timeout=5).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def fault_states() -> dict[str, str]:
    """fault -> active|ended, as `ditsops sandbox status` shows them."""
    status = run_cli("sandbox", "status").stdout
    return dict(re.findall(r"^\s+([a-z-]+)\s+(active|ended)\s", status, re.MULTILINE))


def inject_and_fire(sandbox: Sandbox, *names: str) -> None:
    for name in names:
        output = fault(name)
        assert f"Injected {name}" in output and "What ends it:" in output, output
    firing_within(sandbox.prometheus, {alert_of(name) for name in names}, FIRE_WITHIN)
    only_firing(sandbox.prometheus, {alert_of(name) for name in names})


def apply_fix_and_resolve(sandbox: Sandbox, label: str, alerts: set[str], fix) -> None:  # noqa: ANN001
    started = time.monotonic()
    fix()
    resolved_within(sandbox.prometheus, alerts, RESOLVE_WITHIN)
    MEASURED[label] = round(time.monotonic() - started, 1)


def ditsops(*args: str) -> str:
    done = run_cli("--profile", "sandbox", *args, timeout=120)
    assert done.returncode == 0, f"ditsops {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- restart ------------------------------------------------------------------------------------


def test_a_restart_ends_service_down_and_injecting_it_again_rearms_it(sandbox: Sandbox):
    inject_and_fire(sandbox, "service-down")
    assert run_cli("--profile", "sandbox", "health").returncode == 4
    # The simulator's port is closed, but it still watches the Deployment and sees new pods.
    apply_fix_and_resolve(
        sandbox, "restart: service-down", {"ServiceDown"}, lambda: ditsops("k8s", "restart", "dits-server", "--yes")
    )
    assert query(sandbox, 'up{job="dits-server"}') == 1
    assert fault_states() == {"service-down": "ended"}
    assert run_cli("--profile", "sandbox", "health").returncode == 0

    output = fault("service-down")
    assert "Injected service-down" in output and "already active" not in output
    assert simulator_document(sandbox) is None  # the port closed again
    assert fault_states() == {"service-down": "active"}
    fault("service-down", "--clear")
    assert simulator_document(sandbox) is not None
    assert fault_states() == {}


# --- scale --------------------------------------------------------------------------------------


P99 = f"histogram_quantile(0.99, sum by (job, le) (rate(dits_http_request_duration_seconds_bucket[{SANDBOX_WINDOW}])))"


def test_scaling_out_ends_latency_and_scaling_in_brings_it_back(sandbox: Sandbox):
    resolved_within(sandbox.prometheus, {"ServiceDown", "HighErrorRate"}, RESOLVE_WITHIN)
    inject_and_fire(sandbox, "latency")
    assert query(sandbox, P99) > 5
    apply_fix_and_resolve(
        sandbox,
        "scale-out: latency",
        {"HighLatency"},
        lambda: ditsops("k8s", "scale", "dits-server", "--replicas", "5", "--yes"),
    )
    assert query(sandbox, P99) < 5
    assert fault_states() == {"latency": "ended"}

    ditsops("k8s", "scale", "dits-server", "--replicas", "3", "--yes")
    wait_until(lambda: query(sandbox, P99) > 5, FIRE_WITHIN, "p99 over 5 s again after scaling in", **WATCH)
    assert fault_states() == {"latency": "active"}
    fault("latency", "--clear")
    resolved_within(sandbox.prometheus, {"HighLatency"}, RESOLVE_WITHIN)


# --- DATABASE_POOL_SIZE -------------------------------------------------------------------------


POOL_SHARE = "dits_db_connections_active / (dits_db_connections_max > 0)"


def test_raising_database_pool_size_lowers_the_pool_share(sandbox: Sandbox, kubectl):
    assert query(sandbox, "dits_db_connections_max") == 20  # the seeded env
    inject_and_fire(sandbox, "db-exhaustion")
    assert query(sandbox, POOL_SHARE) > 0.9
    apply_fix_and_resolve(
        sandbox,
        "DATABASE_POOL_SIZE=100: db-exhaustion's pool share",
        {"DatabaseConnectionsExhausted"},
        lambda: kubectl("set", "env", "deployment/dits-server", "DATABASE_POOL_SIZE=100"),
    )
    assert query(sandbox, "dits_db_connections_max") == 100
    assert query(sandbox, POOL_SHARE) < 0.5
    fault("db-exhaustion", "--clear")
    kubectl("set", "env", "deployment/dits-server", "DATABASE_POOL_SIZE=20")  # as the next test expects it
    wait_until(lambda: query(sandbox, "dits_db_connections_max") == 20, 30, "the pool back at 20", **WATCH)
    print("\nfix -> alert resolved (s):", MEASURED)


# A restart ending error-spike and memory-high, terminating the holder ending
# lock-contention and a GC job ending gc-stalled are walked through their runbooks in
# tests/test_incidents_*.py (the same API calls, plus the verdict), so they are not repeated here.
