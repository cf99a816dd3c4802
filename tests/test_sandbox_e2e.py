"""The whole sandbox end to end, as an engineer drives it: up, status, every fault firing its
alert in real Prometheus and Alertmanager, the runbook that answers it, silences, health.

The worker's shared sandbox (tests/sandboxfixtures.py; tests run in file order). The alert
rules aggregate by job, so faults that touch the same numbers never run together:
  1. no fault: every runbook is healthy;
  2. db-exhaustion alone (PostgreSQL, the pool gauges and /health);
  3. the simulator faults whose numbers are disjoint, together (error-spike, latency,
     lock-contention, gc-stalled, large-upload, disk-low, memory-high): exactly their
     alerts fire, and every one resolves after the clear;
  4. service-down alone (it stops every scrape);
  5. traffic-spike last: UnusualTrafficSpike compares with the average of the last 15
     minutes and waits for more than a minute of it (the rule's guard).
`sandbox down` stopping every process and removing every data dir is checked on a sandbox
of its own (tests/test_sandbox_db.py::test_up_status_down). tests/test_simulator.py checks
each simulator fault alone against its own Prometheus; this checks the assembled sandbox
and the runbooks. Before the sandbox: a missing binary, and a start that fails halfway, leave nothing behind.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from ditsops.sandbox import faults as fault_registry
from ditsops.sandbox import simcontrol
from ditsops.sandbox.rules import SANDBOX_WINDOW
from ditsops.sandbox.state import load_state, process_alive
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.incidents import enough_history
from tests.sandboxfixtures import (
    WATCH,
    Sandbox,
    ditsops_json,
    fault,
    only_firing,
    prometheus_alerts,
    resolved_within,
    run_runbook,
)

RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"
FIRE_WITHIN = 60.0
RESOLVE_WITHIN = 60.0
COMPONENTS = ("postgres", "kubeapi", "simulator", "alertmanager", "prometheus")

# fault -> (runbook, its main threshold step)
ANSWERS = {
    "db-exhaustion": ("db-connections-exhausted", "connections"),
    "error-spike": ("high-error-rate", "error-rate"),
    "latency": ("high-latency", "p99"),
    "lock-contention": ("high-lock-contention", "contentions"),
    "gc-stalled": ("gc-not-running", "since-last-gc"),
    "large-upload": ("large-upload", "upload-size"),
    "disk-low": ("low-disk-space", "disk-free"),
    "memory-high": ("high-memory-usage", "memory-used"),
    "service-down": ("service-down", "targets-up"),
    "traffic-spike": ("unusual-traffic-spike", "traffic-ratio"),
}
TOGETHER = ("error-spike", "latency", "lock-contention", "gc-stalled", "large-upload", "disk-low", "memory-high")
# A runbook that acts on its incident (restart, scale out, terminate, a GC job) has that
# destructive step refused without --yes, which exits 5; one with no fix to apply exits 3.
EXPECTED_EXIT = {"service-down": (5,)}
ACTING_OR_NOT = (3, 5)
MEASURED: dict[str, float] = {}  # fault -> seconds from inject to firing (printed at the end)
YOUNG_PROMETHEUS_FLAKY = {"unusual-traffic-spike", "high-memory-usage"}  # see test_without_a_fault_...


def baseline_points(prometheus: str) -> float:
    """Points in UnusualTrafficSpike's baseline subquery now (the sandbox rule's guard)."""
    query = f"count_over_time(sum by (job) (rate(dits_http_requests_total[{SANDBOX_WINDOW}]))[15m:5s])"
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
    return max((float(r["value"][1]) for r in body["data"]["result"]), default=0.0)


def alert_of(name: str) -> str:
    return fault_registry.FAULTS[name].alert


def note_steps(runbook: str) -> set[str]:
    document = yaml.safe_load((RUNBOOKS / f"{runbook}.yaml").read_text())
    return {step["id"] for step in document["steps"] if "note" in step}


def check_answering_runbook(name: str) -> None:
    runbook, main_step = ANSWERS[name]
    code, document = run_runbook(runbook)
    expected = EXPECTED_EXIT.get(name, ACTING_OR_NOT)
    assert code in expected, f"{runbook} under {name}: exit {code}, want {expected}: {document['reason']}"
    step = document["by_id"][main_step]
    assert step["status"] == "failing", f"{runbook}: {main_step} is {step['status']}: {step['summary']}"


def check_alerts_command(names: list[str]) -> None:
    """`ditsops alerts -o json` (Alertmanager's view) lists each alert firing with its runbook."""
    wanted = {alert_of(name): ANSWERS[name][0] for name in names}

    def listed() -> dict[str, dict] | None:
        _, alerts = ditsops_json("alerts")
        by_name = {alert["alertname"]: alert for alert in alerts}
        ready = all(by_name.get(a, {}).get("state") == "firing" for a in wanted)
        return by_name if ready else None

    by_name = wait_until(listed, 20, f"{sorted(wanted)} firing in ditsops alerts", **WATCH)
    for alert, runbook in wanted.items():
        assert by_name[alert]["runbook"] == runbook
        # The suggested command carries the profile it was listed with (pasted, it acts on the sandbox).
        assert by_name[alert]["command"] == f"ditsops --profile sandbox runbook --alert {alert}"


def inject(sandbox: Sandbox, names: tuple[str, ...]) -> dict[str, float]:
    started = {}
    for name in names:
        started[name] = time.monotonic()
        output = fault(name)
        assert f"Injected {name}" in output and f"Alert it should fire: {alert_of(name)}" in output, output
    return started


def fire_and_measure(sandbox: Sandbox, started: dict[str, float], timeout: float = FIRE_WITHIN) -> None:
    """Wait until the alert of every fault started fires, noting how long each took."""
    waiting = {alert_of(name): name for name in started}

    def not_yet_firing() -> list[str]:
        now = prometheus_alerts(sandbox.prometheus)
        for alert in [a for a in waiting if now.get(a) == "firing"]:
            name = waiting.pop(alert)
            MEASURED[name] = round(time.monotonic() - started[name], 1)
        return sorted(waiting)

    wait_until(
        not_yet_firing,
        timeout,
        "every injected fault's alert firing",
        until=lambda left: not left,
        interval=0.25,
        ignore=WATCH["ignore"],
    )


# --- 0: up ------------------------------------------------------------------------------


def test_a_missing_binary_fails_up_in_one_line_before_anything_starts(isolated_home, pg_bin_dir):
    done = run_cli("sandbox", "up", env={"PATH": str(isolated_home.config)})  # no prometheus on PATH
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Debian packages prometheus prometheus-alertmanager" in lines[0]
    assert "apt-get install --no-install-recommends prometheus prometheus-alertmanager" in lines[0]
    assert load_state() is None
    sandbox_dir = isolated_home.state / "ditsops" / "sandbox"
    assert sorted(p.name for p in sandbox_dir.iterdir()) == ["state.lock"]


def test_a_missing_postgresql_names_its_package(isolated_home, monkeypatch):
    from ditsops.base.errors import DitsopsError
    from ditsops.sandbox import components, lifecycle

    def not_there():
        raise DitsopsError("initdb not found")

    monkeypatch.setattr(components, "find_pg_bin", not_there)
    with pytest.raises(
        DitsopsError,
        match=r"Debian package postgresql\); install with: apt-get install "
        r"--no-install-recommends postgresql$",
    ):
        lifecycle.up()
    assert load_state() is None


def test_a_failure_halfway_through_up_stops_what_had_started(isolated_home, pg_bin_dir, monkeypatch):
    from ditsops.base.errors import DitsopsError
    from ditsops.sandbox import lifecycle, promstack

    def broken(*args, **kwargs):
        raise DitsopsError("prometheus exited with status 1 while starting")

    monkeypatch.setattr(promstack, "start_prometheus", broken)
    seen = {}
    real_save = lifecycle.save_state

    def spy(state):  # remember every component that was recorded on the way
        seen.update({name: (c.pid, c.cmdline_marker, c.data_dir) for name, c in state.components.items()})
        real_save(state)

    monkeypatch.setattr(lifecycle, "save_state", spy)
    with pytest.raises(DitsopsError, match="prometheus exited"):
        lifecycle.up()
    assert {"postgres", "kubeapi", "simulator", "alertmanager"} <= set(seen)
    for name, (pid, marker, data_dir) in seen.items():
        assert not process_alive(pid, marker), f"{name} still runs"
        assert not data_dir or not Path(data_dir).exists(), f"{name} left {data_dir}"
    assert load_state() is None


def test_up_starts_every_component_healthy_and_the_profile_points_at_them(sandbox: Sandbox):
    done = run_cli("sandbox", "status")
    assert done.returncode == 0, done.stderr
    assert "every component healthy" in done.stdout
    for name in COMPONENTS:
        component = sandbox.state.components[name]
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith(name))
        assert re.search(r"running\s+healthy", line) and str(component.pid) in line, line
        assert component.url and component.url in line
        assert process_alive(component.pid, component.cmdline_marker)
    assert "No active faults." in done.stdout

    profile = sandbox.state.profile()
    assert profile["prometheus_url"] == sandbox.url("prometheus")
    assert profile["alertmanager_url"] == sandbox.url("alertmanager")
    assert profile["dits_url"] == sandbox.url("simulator")
    assert profile["kube_context"] == "sandbox" and profile["namespace"] == "dits"
    assert profile["params"] == {
        "window": SANDBOX_WINDOW,
        "baseline": "15m",
        "baseline_step": "5s",
        "recheck_window": "3s",  # high-error-rate's recovery check: 3 s read 4 s after the fix
        "recheck_after": "4s",
    }
    assert str(profile["dsn"]).startswith("postgresql://postgres:")
    assert Path(sandbox.kubeconfig).stat().st_mode & 0o777 == 0o600
    # The password never reaches the status output.
    password = sandbox.state.components["postgres"].details["password"]
    assert password not in done.stdout

    _, deployments = ditsops_json("k8s", "status")
    by_name = {d["name"]: d for d in deployments}
    assert by_name["dits-server"]["images"] == ["registry.dits.dev/dits-server:1.4.2"]
    assert len(by_name["dits-server"]["pods"]) == 3 and "dits-worker" in by_name


def test_status_json_gives_scripts_the_kubeconfig_and_every_url(sandbox: Sandbox):
    """`sandbox status -o json`, through a pipe at 80 columns, before or after the command name."""
    before = run_cli("-o", "json", "sandbox", "status", env={"COLUMNS": "80"})
    after = run_cli("sandbox", "status", "-o", "json", env={"COLUMNS": "80"})
    assert before.returncode == 0 and after.returncode == 0, before.stderr + after.stderr
    status = json.loads(after.stdout)
    assert json.loads(before.stdout)["urls"] == status["urls"]
    assert status["up"] is True and status["healthy"] is True
    assert status["kubeconfig"] == sandbox.kubeconfig and Path(status["kubeconfig"]).is_file()
    assert status["kube_context"] == "sandbox" and status["namespace"] == "dits"
    urls = status["urls"]
    assert urls["prometheus"] == sandbox.url("prometheus")
    assert urls["alertmanager"] == sandbox.url("alertmanager")
    assert urls["dits"] == [sandbox.url("simulator")]
    assert urls["kubernetes"] == sandbox.url("kubeapi")
    # The DSN names the server, with its password redacted.
    postgres = sandbox.state.components["postgres"]
    assert urls["postgres"] == f"postgresql://postgres:***@127.0.0.1:{postgres.port}/postgres"
    assert postgres.details["password"] not in after.stdout + before.stdout
    assert {c["name"] for c in status["components"]} == set(COMPONENTS)
    assert all(c["running"] and c["healthy"] for c in status["components"])


def test_fault_registry_matches_the_simulator():
    assert set(fault_registry.SIMULATOR_FAULT_ALERTS) | {"db-exhaustion"} == set(simcontrol.FAULT_ALERTS)
    for name, alert in simcontrol.FAULT_ALERTS.items():
        assert fault_registry.FAULTS[name].alert == alert
    assert fault_registry.FAULTS["bad-deploy"].alert == "HighErrorRate"
    assert set(ANSWERS) | {"bad-deploy"} == set(fault_registry.FAULTS)


# --- 1: no fault ------------------------------------------------------------------------


def check_healthy_runs(names: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(names, pool.map(run_runbook, names), strict=True))
    for name, (code, document) in results.items():
        problems = [
            f"{step['id']}: {step['status']} {step['summary']}"
            for step in document["steps"]
            # warning is allowed: right after `up` rates are still ramping up
            if step["status"] not in {"ok", "info", "warning", "skipped"}
            and not (step["status"] == "pending" and step["id"] in note_steps(name))
        ]
        # A step only warning (allowed above) makes the verdict "not resolved" (exit 3).
        warned = any(step["status"] == "warning" for step in document["steps"])
        assert (code == 0 or (code == 3 and warned)) and not problems, (
            f"{name}: exit {code} ({document['reason']}): {problems}"
        )


def test_without_a_fault_every_runbook_is_healthy(sandbox: Sandbox):
    names = sorted(path.stem for path in RUNBOOKS.glob("*.yaml"))
    assert len(names) == 10 and "unusual-traffic-spike" in names
    # unusual-traffic-spike and high-memory-usage run after db-exhaustion (below): their
    # traffic-ratio step has no "enough history" guard (the alert rule has one), and in a
    # Prometheus only seconds old rate()'s start-up ramp makes the ratio to the average jump over 2.
    check_healthy_runs([name for name in names if name not in YOUNG_PROMETHEUS_FLAKY])
    only_firing(sandbox.prometheus, set())


# --- 2: db-exhaustion ---------------------------------------------------------------------


def test_db_exhaustion_fires_degrades_health_and_resolves(sandbox: Sandbox):
    started = inject(sandbox, ("db-exhaustion",))
    fire_and_measure(sandbox, started)
    only_firing(sandbox.prometheus, {"DatabaseConnectionsExhausted"})
    check_alerts_command(["db-exhaustion"])
    # The server's role is at its connection limit: /health's database check fails.
    health = run_cli("--profile", "sandbox", "health")
    assert health.returncode == 1, health.stdout + health.stderr
    assert re.search(r"database\s+unhealthy", health.stdout)
    check_answering_runbook("db-exhaustion")
    assert "Cleared fault db-exhaustion" in fault("db-exhaustion", "--clear")
    resolved_within(sandbox.prometheus, {"DatabaseConnectionsExhausted"}, RESOLVE_WITHIN)
    assert run_cli("--profile", "sandbox", "health").returncode == 0


def test_without_a_fault_traffic_is_usual_once_prometheus_has_half_a_minute(sandbox: Sandbox):
    wait_until(lambda: enough_history(sandbox.prometheus, samples=35), 120, "35 s of Prometheus history", **WATCH)
    check_healthy_runs(sorted(YOUNG_PROMETHEUS_FLAKY))


# --- 3: the simulator's independent faults, together ---------------------------------------


def test_simulator_faults_fire_exactly_their_alerts_and_resolve(sandbox: Sandbox):
    started = inject(sandbox, TOGETHER)
    status = run_cli("sandbox", "status").stdout
    for name in TOGETHER:
        assert re.search(rf"{name}\s+active", status), status
    fire_and_measure(sandbox, started)
    only_firing(sandbox.prometheus, {alert_of(name) for name in TOGETHER})  # none that no fault asked for
    check_alerts_command(list(TOGETHER))
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(check_answering_runbook, TOGETHER))

    # A silence mutes the alert in Alertmanager; expiring it brings the alert back.
    done = run_cli(
        "--profile",
        "sandbox",
        "silence",
        "add",
        "--alert",
        "LargeUpload",
        "--for",
        "10m",
        "--comment",
        "e2e: known upload",
        "--yes",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _, silences = ditsops_json("silence", "list")
    silence = next(s for s in silences if s["comment"] == "e2e: known upload")

    def state_of(alert: str) -> str | None:
        _, listed = ditsops_json("alerts")
        return next((a["state"] for a in listed if a["alertname"] == alert), None)

    wait_until(lambda: state_of("LargeUpload") == "silenced", 20, "LargeUpload silenced", **WATCH)
    assert state_of("HighErrorRate") == "firing"
    done = run_cli("--profile", "sandbox", "silence", "expire", silence["id"], "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    wait_until(lambda: state_of("LargeUpload") == "firing", 20, "LargeUpload firing again", **WATCH)

    cleared = fault("--clear")
    for name in TOGETHER:
        assert f"Cleared fault {name}" in cleared
    resolved_within(sandbox.prometheus, {alert_of(name) for name in TOGETHER}, RESOLVE_WITHIN)
    assert "No active faults." in run_cli("sandbox", "status").stdout


# --- 4: service-down ----------------------------------------------------------------------


def test_service_down_fires_and_resolves(sandbox: Sandbox):
    started = inject(sandbox, ("service-down",))
    status = run_cli("sandbox", "status").stdout
    assert re.search(r"simulator\s+running\s+unhealthy", status), status
    fire_and_measure(sandbox, started)
    only_firing(sandbox.prometheus, {"ServiceDown"})
    check_alerts_command(["service-down"])
    assert run_cli("--profile", "sandbox", "health").returncode == 4
    check_answering_runbook("service-down")
    fault("service-down", "--clear")
    resolved_within(sandbox.prometheus, {"ServiceDown"}, RESOLVE_WITHIN)


# --- 5: traffic-spike -----------------------------------------------------------------------


def test_traffic_spike_fires_and_resolves(sandbox: Sandbox):
    # The rule's guard wants more than 12 points of 5 s in its 15-minute baseline.
    wait_until(lambda: baseline_points(sandbox.prometheus) > 12, 180, "a minute of traffic baseline", **WATCH)
    started = inject(sandbox, ("traffic-spike",))
    fire_and_measure(sandbox, started, timeout=FIRE_WITHIN)
    only_firing(sandbox.prometheus, {"UnusualTrafficSpike"})
    check_alerts_command(["traffic-spike"])
    check_answering_runbook("traffic-spike")
    fault("traffic-spike", "--clear")
    resolved_within(sandbox.prometheus, {"UnusualTrafficSpike"}, RESOLVE_WITHIN)
    print("\ninject -> firing (s):", dict(sorted(MEASURED.items())))
