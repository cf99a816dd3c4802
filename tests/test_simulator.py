"""The Dits simulator against real Prometheus and Alertmanager.

One simulator + Prometheus + Alertmanager per fault, all running at once (a few seconds
of CPU each on 2 cores), because the alerts aggregate by job: two simulators in one
Prometheus would water each other's faults down. Timeline, from the stacks' start:
  0-12 s   no fault anywhere: no alert may even be pending;
  ~12 s    every fault is switched on;
  then     each fault's alert, and no other, must fire in Prometheus and reach
           Alertmanager; then every fault is cleared and every alert must go away.
traffic-spike is left to tests/test_sandbox_e2e.py, which runs it alone in the sandbox:
its rule's guard wants more than a minute of baseline, which would double this test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ditsops.sandbox import promstack, simcontrol
from ditsops.sandbox.ports import free_port, wait_for_port
from ditsops.sandbox.rules import SANDBOX_WINDOW
from tests.helpers import require_binary, retry_if_port_taken, wait_until

QUIET_WINDOW_SECONDS = 12.0
FIRE_WITHIN_SECONDS = 60.0
RESOLVE_WITHIN_SECONDS = 60.0
SLOW_FAULTS = {"traffic-spike"}  # see the module docstring
SECRET = "s3cr3t-pw"


@dataclass
class Simulator:
    process: subprocess.Popen[bytes]
    port: int
    control_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_simulator(directory: Path, dsn: str | None = None) -> Simulator:
    return retry_if_port_taken(lambda: _start_simulator(directory, dsn))


def _start_simulator(directory: Path, dsn: str | None) -> Simulator:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    control = directory / "faults.json"
    env = {key: value for key, value in os.environ.items() if key != "DITS_SIM_DSN"}
    if dsn:
        env["DITS_SIM_DSN"] = dsn
    log = (directory / "simulator.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "ditsops.sandbox.simulator", "--port", str(port), "--control-file", str(control)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    simulator = Simulator(process, port, control)
    # Listening, and still alive: not another process that took the port meanwhile.
    if not wait_for_port(port, timeout=15) or process.poll() is not None:
        simulator.stop()
        raise AssertionError(f"the simulator did not listen: {(directory / 'simulator.log').read_text()}")
    return simulator


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    sim = start_simulator(tmp_path / "sim")
    yield sim
    sim.stop()


# ---------------------------------------------------------------- endpoints, no Prometheus

SPEC_METRICS = {
    "dits_http_requests_total": "counter",
    "dits_http_request_duration_seconds": "histogram",
    "dits_http_requests_in_flight": "gauge",
    "dits_repositories_total": "gauge",
    "dits_commits_total": "counter",
    "dits_chunks_stored": "gauge",
    "dits_chunks_size_bytes": "gauge",
    "dits_chunk_uploads_total": "counter",
    "dits_chunk_downloads_total": "counter",
    "dits_deduplication_ratio": "gauge",
    "dits_bytes_uploaded_total": "counter",
    "dits_bytes_downloaded_total": "counter",
    "dits_transfer_speed_bytes_per_second": "histogram",
    "dits_locks_active": "gauge",
    "dits_lock_acquisitions_total": "counter",
    "dits_lock_contentions_total": "counter",
    "dits_db_connections_active": "gauge",
    "dits_db_connections_idle": "gauge",
    "dits_db_connections_max": "gauge",
    "dits_db_query_duration_seconds": "histogram",
    "dits_gc_runs_total": "counter",
    "dits_gc_chunks_deleted_total": "counter",
    "dits_gc_bytes_reclaimed_total": "counter",
    "dits_gc_duration_seconds": "histogram",
    "dits_gc_last_run_timestamp": "gauge",
    "dits_upload_size_bytes": "gauge",
    "node_filesystem_avail_bytes": "gauge",
    "node_filesystem_size_bytes": "gauge",
    "node_memory_MemTotal_bytes": "gauge",
    "node_memory_MemAvailable_bytes": "gauge",
}


def sample_values(text: str, name: str) -> dict[str, float]:
    """labels-text -> value for every sample of `name`."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return {labels or "": float(value) for labels, value in pattern.findall(text)}


def test_metrics_exports_every_spec_metric_with_help_and_type(simulator: Simulator) -> None:
    response = httpx.get(f"{simulator.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    for name, kind in SPEC_METRICS.items():
        assert f"# TYPE {name} {kind}\n" in text, name
        assert re.search(rf"^# HELP {name} \S", text, re.MULTILINE), name
    buckets = sample_values(text, "dits_http_request_duration_seconds_bucket")
    les = {re.search(r'le="([^"]+)"', labels).group(1) for labels in buckets}
    assert les == {"0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "+Inf"}
    statuses = {
        re.search(r'status="(\d+)"', labels).group(1) for labels in sample_values(text, "dits_http_requests_total")
    }
    assert {"200", "201", "304", "404", "500"} <= statuses
    assert 'mountpoint="/data"' in text


def test_counters_advance_in_real_time_not_per_scrape(simulator: Simulator) -> None:
    def total() -> float:
        return sum(sample_values(httpx.get(f"{simulator.url}/metrics").text, "dits_http_requests_total").values())

    # ~40 requests a second, in 0.25 s ticks; each of the ~24 series may round up by one.
    started = time.monotonic()
    first = total()
    second = total()
    assert second - first <= 44 * (time.monotonic() - started + 0.25) + 24  # scraping moved nothing
    time.sleep(2)
    increase = total() - first
    elapsed = time.monotonic() - started
    assert 36 * (elapsed - 0.5) <= increase <= 44 * (elapsed + 0.25) + 24


def test_health_degraded_when_database_unreachable(tmp_path: Path) -> None:
    closed_port = free_port()  # nobody listens there
    sim = start_simulator(tmp_path / "sim", dsn=f"postgresql://dits:{SECRET}@127.0.0.1:{closed_port}/dits")
    try:
        started = time.monotonic()
        response = httpx.get(f"{sim.url}/health", timeout=10)
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert set(body) == {"status", "version", "uptime_seconds", "checks"}
        checks = {check["name"]: check for check in body["checks"]}
        assert set(checks) == {"database", "redis", "storage"}
        assert checks["database"]["status"] == "unhealthy"
        assert str(closed_port) in checks["database"]["message"]
        assert SECRET not in response.text
        assert checks["redis"]["status"] == checks["storage"]["status"] == "healthy"
        assert httpx.get(f"{sim.url}/health/ready", timeout=10).status_code == 503
        assert httpx.get(f"{sim.url}/health/live").status_code == 200
        # The DSN came through the environment: the password is not in the process list.
        assert SECRET.encode() not in Path(f"/proc/{sim.process.pid}/cmdline").read_bytes()
    finally:
        sim.stop()


def test_health_healthy_with_a_real_database(tmp_path: Path, pg_dsn: str) -> None:
    sim = start_simulator(tmp_path / "sim", dsn=pg_dsn)
    try:
        response = httpx.get(f"{sim.url}/health", timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "healthy"
        assert body["version"] == "1.4.2"
        database = next(check for check in body["checks"] if check["name"] == "database")
        assert database["status"] == "healthy"
        assert isinstance(database["latency_ms"], int) and database["message"] is None
        assert httpx.get(f"{sim.url}/health/ready", timeout=10).status_code == 200
    finally:
        sim.stop()


def test_a_real_connection_hog_plays_db_exhaustion(tmp_path: Path, pg_dsn: str) -> None:
    import psycopg

    sim = start_simulator(tmp_path / "sim", dsn=pg_dsn)
    hog: list[psycopg.Connection] = []

    def faults() -> list[str]:
        return httpx.get(f"{sim.url}/sandbox/faults").json()["faults"]

    def wait_for(expected: list[str]) -> list[str]:
        return wait_until(faults, 8, f"faults {expected}", until=lambda now: now == expected, interval=0.2)

    try:
        try:
            with psycopg.connect(pg_dsn, autocommit=True) as probe:
                used, maximum = probe.execute(
                    "SELECT count(*) FILTER (WHERE backend_type = 'client backend'),"
                    " current_setting('max_connections')::int FROM pg_stat_activity"
                ).fetchone()
            # Over 90% of max_connections, counting the probe's slot the simulator will use.
            for _ in range(int(maximum * 0.92) - used):
                hog.append(psycopg.connect(pg_dsn, autocommit=True, application_name="test-hog"))
            assert wait_for(["db-exhaustion"]) == ["db-exhaustion"]
            text = httpx.get(f"{sim.url}/metrics").text
            active = sample_values(text, "dits_db_connections_active")[""]
            assert active / sample_values(text, "dits_db_connections_max")[""] > 0.9
        finally:
            for connection in hog:
                connection.close()
        assert wait_for([]) == []
    finally:
        sim.stop()


def test_faults_endpoint_reports_the_control_file(simulator: Simulator) -> None:
    simcontrol.set_fault(simulator.control_file, "large-upload")
    time.sleep(0.6)
    document = httpx.get(f"{simulator.url}/sandbox/faults").json()
    assert document["faults"] == ["large-upload"]
    text = httpx.get(f"{simulator.url}/metrics").text
    assert sample_values(text, "dits_upload_size_bytes")[""] == 150e9
    simcontrol.clear_faults(simulator.control_file)
    time.sleep(0.6)
    assert httpx.get(f"{simulator.url}/sandbox/faults").json()["faults"] == []


def test_bad_image_hook_plays_the_error_spike(tmp_path: Path) -> None:
    # The seam the Kubernetes issue will use: an ImageSource and an image_is_bad hook.
    from ditsops.sandbox.simulator import Simulator as InProcessSimulator
    from ditsops.sandbox.simulator import SimulatorConfig, StaticImage

    port = free_port()
    sim = InProcessSimulator(
        SimulatorConfig(port=port, control_file=tmp_path / "faults.json"),
        image_source=StaticImage("registry.example.com/dits/dits-server:1.5.0-rc1"),
        is_bad=lambda image: bool(image and image.endswith("-rc1")),
    )
    sim.start()
    try:
        document = httpx.get(f"http://127.0.0.1:{port}/sandbox/faults").json()
        assert document["faults"] == ["error-spike"] and document["requested"] == []
        assert document["image_bad"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["version"] == "1.5.0-rc1"
    finally:
        sim.stop()


def test_exposition_escaping_and_histogram_floors() -> None:
    from ditsops.sandbox.metrics import Exposition, Histogram, format_value

    assert [format_value(v) for v in (3.0, 0.25, float("inf"), 1e6)] == ["3", "0.25", "+Inf", "1000000"]
    histogram = Histogram((1.0, 5.0))

    def tick() -> None:  # a tenth of an observation in each of the three buckets
        histogram.observe_distribution(0.3, lambda x: {1.0: 1 / 3, 5.0: 2 / 3}[x], 1.0)

    for _ in range(9):
        tick()
    # 0.9 + 0.9 + 0.9 = 2.7 observations, but no bucket holds a whole one: nothing shows yet.
    assert histogram.cumulative() == [0, 0, 0]
    tick()
    assert histogram.cumulative() == [1, 2, 3]
    out = Exposition()
    out.gauge("x", "help with \\ and\nnewline", [({"path": 'a"b\\c\nd'}, 1.5)])
    assert out.text() == '# HELP x help with \\\\ and\\nnewline\n# TYPE x gauge\nx{path="a\\"b\\\\c\\nd"} 1.5\n'


def test_unknown_fault_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="unknown sandbox fault"):
        simcontrol.set_fault(tmp_path / "faults.json", "meteor-strike")


# ---------------------------------------------------------------- with Prometheus and Alertmanager


@dataclass
class Rig:
    fault: str
    alert: str
    simulator: Simulator
    stack: promstack.PromStack
    started: float
    injected_at: float | None = None
    fired_after: float | None = None
    in_alertmanager: bool = False
    unexpected: set[str] = field(default_factory=set)

    def alerts(self, client: httpx.Client) -> dict[str, str]:
        """alertname -> state (pending|firing) in Prometheus."""
        data = client.get(f"{self.stack.prometheus.url}/api/v1/alerts").json()["data"]["alerts"]
        return {alert["labels"]["alertname"]: alert["state"] for alert in data}

    def alertmanager_alerts(self, client: httpx.Client) -> dict[str, str]:
        data = client.get(f"{self.stack.alertmanager.url}/api/v2/alerts").json()
        return {alert["labels"]["alertname"]: alert["status"]["state"] for alert in data}


@pytest.fixture(scope="module")
def rigs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Rig]]:
    require_binary("prometheus", promstack.INSTALL_COMMAND)
    require_binary("prometheus-alertmanager", promstack.INSTALL_COMMAND)
    root = tmp_path_factory.mktemp("rigs")
    started: list[Rig] = []
    try:
        for fault, alert in simcontrol.FAULT_ALERTS.items():
            if fault in SLOW_FAULTS:
                continue
            sim = start_simulator(root / fault / "sim")
            try:
                stack = retry_if_port_taken(
                    lambda: promstack.start_stack(root / fault / "stack", [f"127.0.0.1:{sim.port}"])  # noqa: B023
                )
            except BaseException:
                sim.stop()
                raise
            started.append(Rig(fault, alert, sim, stack, time.monotonic()))
        yield started
    finally:
        for rig in started:
            promstack.stop_stack(rig.stack)
            rig.simulator.stop()


def test_no_alert_without_faults(rigs: list[Rig]) -> None:
    with httpx.Client(timeout=5) as client:
        # Every rig is watched for a whole quiet window after its own start (the last one
        # started last), and for a few seconds at least when starting them all took longer:
        # the loop looks at every rig at least once, whatever the machine's speed.
        deadline = max(max(rig.started for rig in rigs) + QUIET_WINDOW_SECONDS, time.monotonic() + 3)
        looks = 0
        while True:
            for rig in rigs:
                assert rig.alerts(client) == {}, rig.fault
            looks += 1
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
        assert looks >= 3
        # Prometheus really scraped and evaluated: rate() already has data.
        query = {"query": f"sum(rate(dits_http_requests_total[{SANDBOX_WINDOW}]))"}
        result = client.get(f"{rigs[0].stack.prometheus.url}/api/v1/query", params=query).json()
        assert float(result["data"]["result"][0]["value"][1]) > 0


def test_each_fault_fires_exactly_its_alert_and_clears(rigs: list[Rig]) -> None:
    with httpx.Client(timeout=5) as client:
        for rig in rigs:
            rig.unexpected |= set(rig.alerts(client))  # a quiet baseline up to the fault: nothing fires yet
            simcontrol.set_fault(rig.simulator.control_file, rig.fault)
            rig.injected_at = time.monotonic()
        pending = list(rigs)
        while pending:
            now = time.monotonic()
            for rig in list(pending):
                assert rig.injected_at is not None
                alerts = rig.alerts(client)
                rig.unexpected |= set(alerts) - {rig.alert}
                if rig.fired_after is None and alerts.get(rig.alert) == "firing":
                    rig.fired_after = now - rig.injected_at
                if rig.fired_after is not None and rig.alertmanager_alerts(client).get(rig.alert) == "active":
                    rig.in_alertmanager = True
                    pending.remove(rig)
                elif now - rig.injected_at > FIRE_WITHIN_SECONDS:
                    pending.remove(rig)
            time.sleep(0.5)

        report = {rig.fault: (rig.fired_after, rig.in_alertmanager, sorted(rig.unexpected)) for rig in rigs}
        print("fault -> (seconds to firing, in Alertmanager, other alerts):", report)
        for rig in rigs:
            assert rig.fired_after is not None, f"{rig.fault}: {rig.alert} did not fire within {FIRE_WITHIN_SECONDS} s"
            assert rig.in_alertmanager, f"{rig.fault}: {rig.alert} never reached Alertmanager"
            assert not rig.unexpected, f"{rig.fault} also raised {sorted(rig.unexpected)}"

        for rig in rigs:
            simcontrol.clear_faults(rig.simulator.control_file)
        wait_until(
            lambda: {rig.fault: alerts for rig in rigs if (alerts := rig.alerts(client))},
            RESOLVE_WITHIN_SECONDS,
            "every alert resolved",
            until=lambda left: not left,
            interval=1,
        )


# ---------------------------------------------------------------- fixes, against the in-memory Kubernetes API


@dataclass
class KubeRig:
    """An in-process simulator reading the seeded dits-server Deployment of a real (in-memory) API."""

    simulator: object
    control_file: Path
    kube: object  # kubesource.KubeHTTP

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.simulator.config.port}"

    def document(self) -> dict | None:
        try:
            return httpx.get(f"{self.url}/sandbox/faults", timeout=2).json()
        except httpx.TransportError:
            return None  # service-down: the port is closed

    def metric(self, name: str) -> float:
        return sample_values(httpx.get(f"{self.url}/metrics", timeout=2).text, name)[""]

    def patch(self, body: dict) -> None:
        from ditsops.sandbox import kubesource

        self.kube.request("PATCH", self.kube.deployment_path(), body, kubesource.STRATEGIC_MERGE_PATCH)

    def restart(self) -> None:
        """What `kubectl rollout restart deployment/dits-server` sends."""
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.patch({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}})

    def scale(self, replicas: int) -> None:
        self.kube.request(
            "PATCH",
            self.kube.deployment_path() + "/scale",
            {"spec": {"replicas": replicas}},
            "application/merge-patch+json",
        )


@pytest.fixture
def kube_rig(tmp_path: Path) -> Iterator[KubeRig]:
    from ditsops.sandbox import kubefacts, kubesource
    from ditsops.sandbox.kubeapi import KubeAPIServer
    from ditsops.sandbox.simulator import Simulator as InProcessSimulator
    from ditsops.sandbox.simulator import SimulatorConfig

    with KubeAPIServer(ready_delay=0.05) as server:
        server.seed_dits()
        source = kubefacts.KubeDeploymentSource(server.url, interval=0.2).start()
        control = tmp_path / "faults.json"

        def started() -> InProcessSimulator:
            sim = InProcessSimulator(SimulatorConfig(port=free_port(), control_file=control), image_source=source)
            sim.start()  # "could not listen": the port was taken meanwhile, and a new one is chosen
            return sim

        sim = retry_if_port_taken(started)
        try:
            yield KubeRig(sim, control, kubesource.KubeHTTP(server.url))
        finally:
            sim.stop()
            source.stop()


RESTART_FAULTS = ("service-down", "memory-high", "error-spike")


def test_a_restart_heals_process_faults_and_injecting_again_rearms(kube_rig: KubeRig) -> None:
    for name in RESTART_FAULTS:
        simcontrol.set_fault(kube_rig.control_file, name)
    wait_until(lambda: kube_rig.document() is None, what="service-down closing the port")
    assert set(kube_rig.simulator.applied_faults) == set(RESTART_FAULTS)

    started = time.monotonic()
    kube_rig.restart()
    document = wait_until(kube_rig.document, what="the port open again after the restart")
    healed_after = time.monotonic() - started
    assert document["faults"] == [] and document["healed"] == sorted(RESTART_FAULTS)
    assert document["requested"] == sorted(RESTART_FAULTS)  # still asked for, no longer applied
    assert document["deployment"]["restarted_at"] and document["deployment"]["rolled_out"]
    assert kube_rig.metric("node_memory_MemAvailable_bytes") / kube_rig.metric("node_memory_MemTotal_bytes") > 0.3
    assert healed_after < 5, healed_after

    # Removed and re-added before the simulator's next tick: a new request all the same.
    simcontrol.set_fault(kube_rig.control_file, "service-down", active=False)
    simcontrol.set_fault(kube_rig.control_file, "service-down")
    simcontrol.set_fault(kube_rig.control_file, "memory-high")  # injected again over itself
    wait_until(lambda: {"service-down", "memory-high"} <= kube_rig.simulator.applied_faults, what="re-armed")
    wait_until(lambda: kube_rig.document() is None, what="service-down closing the port again")
    assert kube_rig.simulator.fixes.healed == {"error-spike"}

    # Scaling is no restart: the same pods keep running.
    kube_rig.scale(4)
    wait_until(lambda: kube_rig.simulator.facts.serving_replicas == 4, what="4 ready replicas")
    assert {"service-down", "memory-high"} <= kube_rig.simulator.applied_faults


def test_scaling_out_ends_latency_and_scaling_in_brings_it_back(kube_rig: KubeRig) -> None:
    simcontrol.set_fault(kube_rig.control_file, "latency")
    wait_until(lambda: kube_rig.document()["faults"] == ["latency"], what="latency applied")
    kube_rig.scale(5)
    document = wait_until(lambda: (d := kube_rig.document())["healed"] == ["latency"] and d, what="latency ended")
    assert document["faults"] == [] and document["deployment"]["ready_replicas"] == 5
    kube_rig.scale(3)
    wait_until(lambda: kube_rig.document()["faults"] == ["latency"], what="latency back after scaling in")
    # A restart replaces pods but adds none: saturation stays.
    kube_rig.restart()
    wait_until(
        lambda: kube_rig.simulator.facts.template_changes == 1 and kube_rig.simulator.facts.rolled_out,
        what="the restart rolled out",
    )
    assert kube_rig.document()["faults"] == ["latency"]


def test_the_pool_size_follows_database_pool_size(kube_rig: KubeRig) -> None:
    def set_env(value: str | None) -> None:
        env = (
            [{"name": "DATABASE_POOL_SIZE", "value": value}]
            if value
            else [{"name": "DATABASE_POOL_SIZE", "$patch": "delete"}]
        )
        kube_rig.patch({"spec": {"template": {"spec": {"containers": [{"name": "dits-server", "env": env}]}}}})

    assert kube_rig.metric("dits_db_connections_max") == 20  # the seeded Deployment's env
    assert kube_rig.metric("dits_db_connections_active") <= 0.8 * 20
    set_env("100")
    wait_until(lambda: kube_rig.metric("dits_db_connections_max") == 100, what="max 100")
    set_env(None)
    wait_until(lambda: kube_rig.metric("dits_db_connections_max") == 50, what="back to the default 50")


def test_the_pool_share_under_db_exhaustion_falls_when_the_pool_grows() -> None:
    from ditsops.sandbox.simmodel import DitsModel

    model = DitsModel(1000.0)
    model.set_pool_max(20)
    model.advance(1001.0, frozenset({"db-exhaustion"}))
    assert 0.9 < model.db_active_now / model.pool_max <= 1.0
    model.set_pool_max(100)
    model.advance(1002.0, frozenset({"db-exhaustion"}))
    assert model.db_active_now / model.pool_max < 0.25 and model.db_idle_now == 100 - model.db_active_now
    model.advance(1003.0, frozenset())  # over; a new exhaustion fills the pool it finds
    model.advance(1004.0, frozenset({"db-exhaustion"}))
    assert model.db_active_now / model.pool_max > 0.9


def test_a_job_from_cronjob_dits_gc_ends_gc_stalled(kube_rig: KubeRig) -> None:
    def gc_metrics() -> dict[str, float]:
        text = httpx.get(f"{kube_rig.url}/metrics", timeout=2).text
        return {
            name: sample_values(text, name)[""]
            for name in (
                "dits_gc_last_run_timestamp",
                "dits_gc_runs_total",
                "dits_gc_chunks_deleted_total",
                "dits_gc_bytes_reclaimed_total",
                "dits_chunks_stored",
            )
        }

    if kube_rig.simulator.facts.jobs_api is False:
        pytest.skip("the in-memory Kubernetes API has no batch/v1 Jobs yet")
    simcontrol.set_fault(kube_rig.control_file, "gc-stalled")
    wait_until(lambda: kube_rig.document()["faults"] == ["gc-stalled"], what="gc-stalled applied")
    stalled = gc_metrics()
    assert time.time() - stalled["dits_gc_last_run_timestamp"] > 86400

    # A Job of another CronJob does nothing.
    other = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "backup-now",
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "backup", "uid": "u-backup"}],
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "b", "image": "registry.dits.dev/dits-worker:1.4.2"}],
                }
            }
        },
    }
    kube_rig.kube.request("POST", "/apis/batch/v1/namespaces/dits/jobs", other)
    # What `kubectl create job gc-now --from=cronjob/dits-gc` sends.
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "gc-now",
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": "dits-gc", "uid": "u-gc", "controller": True}
            ],
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "gc", "image": "registry.dits.dev/dits-worker:1.4.2"}],
                }
            }
        },
    }
    started = time.monotonic()
    kube_rig.kube.request("POST", "/apis/batch/v1/namespaces/dits/jobs", job)
    document = wait_until(lambda: (d := kube_rig.document())["healed"] == ["gc-stalled"] and d, what="gc-stalled ended")
    print(f"gc-stalled ended {time.monotonic() - started:.1f} s after the job was created")
    assert document["faults"] == [] and document["deployment"]["gc_jobs"] == ["gc-now"]
    ran = gc_metrics()
    assert time.time() - ran["dits_gc_last_run_timestamp"] < 10
    assert ran["dits_gc_runs_total"] > stalled["dits_gc_runs_total"]
    assert ran["dits_gc_chunks_deleted_total"] > stalled["dits_gc_chunks_deleted_total"]
    assert ran["dits_gc_bytes_reclaimed_total"] > stalled["dits_gc_bytes_reclaimed_total"]
    assert ran["dits_chunks_stored"] < stalled["dits_chunks_stored"] + 100  # uploads add a few meanwhile

    # The old job does not end a new stall; a new one does.
    simcontrol.set_fault(kube_rig.control_file, "gc-stalled")
    time.sleep(1.5)  # several polls of the jobs list: the finished gc-now must not count
    assert kube_rig.document()["faults"] == ["gc-stalled"]


def test_gc_job_rules() -> None:
    from ditsops.sandbox import kubefacts

    def job(**metadata) -> dict:  # noqa: ANN003
        return {"metadata": {"name": "j", "uid": "u", **metadata}}

    assert kubefacts.is_gc_job(job(ownerReferences=[{"kind": "CronJob", "name": "dits-gc"}]))
    assert not kubefacts.is_gc_job(
        job(
            ownerReferences=[{"kind": "CronJob", "name": "backup"}],
            annotations={"cronjob.kubernetes.io/instantiate": "manual"},
        )
    )
    assert kubefacts.is_gc_job(job(labels={"cronjob.kubernetes.io/instantiate": "manual"}))
    assert not kubefacts.is_gc_job(job())
    created = time.time() - 10
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    running = kubefacts.job_fact({**job(creationTimestamp=stamp), "status": {"active": 1}})
    assert not running.done(time.time())
    assert kubefacts.job_fact({**job(creationTimestamp=stamp), "status": {"succeeded": 1}}).done(time.time())
    # An API that never gives Jobs a status: done a few seconds after creation.
    bare = kubefacts.job_fact(job(creationTimestamp=stamp))
    assert bare.done(time.time()) and not bare.done(created + 1)
