"""Each sandbox fault ends with the fix a production engineer would apply, seen in Prometheus.

One sandbox for the module; the tests run in file order, one incident at a time (the
alerts aggregate by job, so two incidents would water each other down):
  restart (ditsops k8s restart)  ends error-spike and memory-high, then service-down;
  scaling out                    ends latency, scaling in brings it back;
  terminating the lock holder    ends lock-contention (real PostgreSQL locks);
  a Job from cronjob/dits-gc     ends gc-stalled (kubectl create job --from=cronjob/dits-gc);
  DATABASE_POOL_SIZE=100         lowers the pool's share under db-exhaustion.
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
from ditsops.sandbox.state import load_state, process_alive
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until
from tests.sandboxfixtures import (
    WATCH,
    Sandbox,
    ditsops_json,
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


def test_a_restart_ends_error_spike_and_memory_high(sandbox: Sandbox):
    inject_and_fire(sandbox, "error-spike", "memory-high")
    apply_fix_and_resolve(
        sandbox,
        "restart: error-spike + memory-high",
        {"HighErrorRate", "HighMemoryUsage"},
        lambda: ditsops("k8s", "restart", "dits-server", "--yes"),
    )
    document = simulator_document(sandbox)
    assert document and document["healed"] == ["error-spike", "memory-high"] and document["faults"] == []
    assert fault_states() == {"error-spike": "ended", "memory-high": "ended"}
    # Injected again: armed again (a new request, though the name never left the control file).
    assert "Injected memory-high" in fault("memory-high")
    assert fault_states()["memory-high"] == "active"
    fault("--clear")
    resolved_within(sandbox.prometheus, {"HighMemoryUsage"}, RESOLVE_WITHIN)


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


P99 = "histogram_quantile(0.99, sum by (job, le) (rate(dits_http_request_duration_seconds_bucket[30s])))"


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


# --- lock-contention ----------------------------------------------------------------------------


def lock_holder(dsn: str) -> int:
    """The one dits-server session every lock waiter queues behind."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'dits-server' AND state = 'idle in transaction'"
            " AND pid IN (SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity WHERE wait_event_type = 'Lock')"
        ).fetchall()
    assert len(rows) == 1, rows
    return rows[0][0]


def descendants(node: dict) -> set[int]:
    found: set[int] = set()
    for child in node.get("blocks") or []:
        if isinstance(child, dict):
            found |= {child["pid"]} | descendants(child)
    return found


def test_terminating_the_lock_holder_ends_lock_contention(sandbox: Sandbox):
    inject_and_fire(sandbox, "lock-contention")
    load_pid = load_state().faults["lock-contention"].pid
    assert process_alive(load_pid)
    document = simulator_document(sandbox)
    assert document and document["lock_waiters"] >= 6

    # `ditsops db blocking` shows the queue: one holder idle in transaction, six behind it.
    holder = lock_holder(str(sandbox.state.profile()["dsn"]))
    _, forest = ditsops_json("db", "blocking")
    top = {node["pid"]: node for node in forest}
    assert holder in top, forest
    assert top[holder]["state"] == "idle in transaction"
    assert len(descendants(top[holder])) == 6, top[holder]

    apply_fix_and_resolve(
        sandbox,
        "terminate the holder: lock-contention",
        {"HighLockContention"},
        lambda: ditsops("db", "terminate", "--pid", str(holder), "--yes"),
    )
    # The waiters got the row in turn, left, and the load exited with them.
    wait_until(lambda: not process_alive(load_pid), 10, "the lock-contention load exited", **WATCH)
    assert fault_states() == {"lock-contention": "ended"}
    _, forest = ditsops_json("db", "blocking")
    assert forest == []
    assert "Cleared fault lock-contention" in fault("lock-contention", "--clear")


# --- gc-stalled ---------------------------------------------------------------------------------


def test_a_job_from_cronjob_dits_gc_ends_gc_stalled(sandbox: Sandbox, kubectl):
    inject_and_fire(sandbox, "gc-stalled")
    runs_before = query(sandbox, "dits_gc_runs_total")
    apply_fix_and_resolve(
        sandbox,
        "GC job: gc-stalled",
        {"GCNotRunning"},
        lambda: kubectl("create", "job", "gc-manual", "--from=cronjob/dits-gc"),
    )
    assert query(sandbox, "time() - dits_gc_last_run_timestamp") < 120
    assert query(sandbox, "dits_gc_runs_total") > runs_before
    assert fault_states() == {"gc-stalled": "ended"}
    fault("gc-stalled", "--clear")


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
    print("\nfix -> alert resolved (s):", MEASURED)
