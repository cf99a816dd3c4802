"""One whole sandbox (`ditsops sandbox up`) per test worker, shared by every test that
asks for it, and helpers to watch it.

The `sandbox` fixture is registered through `pytest_plugins` in tests/conftest.py. The
sandbox runs real PostgreSQL, Prometheus and Alertmanager; starting one costs seconds and
Prometheus needs history for some alerts, so a worker starts one, on first use, and every
module after that walks its incidents in it (xdist gives each worker its own session, so
two workers never share one). Sharing is only safe if every test leaves the sandbox as it
found it: after each test that used it, `_sandbox_left_as_found` compares the sandbox with
how it was when it came up — active faults, deployments' replicas and containers, active
silences, held Leases, advisory locks in PostgreSQL — puts back whatever differs, and fails
that test loudly, naming what it left behind. Tests themselves still clear their faults
and wait for their alerts to resolve; this is the net under them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ditsops.sandbox import faults as sandbox_faults
from ditsops.sandbox import lifecycle
from ditsops.sandbox.kubesource import KubeHTTP
from ditsops.sandbox.promstack import INSTALL_COMMAND
from ditsops.sandbox.rules import SANDBOX_WINDOW
from ditsops.sandbox.state import SandboxState, load_state
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until

NAMESPACE = "dits"


@dataclass
class Sandbox:
    home: Path  # holds the XDG config and state directories
    state: SandboxState
    started: float  # time.monotonic() when `up` returned
    found: dict[str, Any] = field(default_factory=dict)  # deployment -> what `up` made of it

    def url(self, component: str) -> str:
        url = self.state.components[component].url
        assert url
        return url

    @property
    def prometheus(self) -> str:
        return self.url("prometheus")

    @property
    def kubeconfig(self) -> str:
        return str(self.state.components["kubeapi"].profile["kubeconfig"])

    @property
    def environment(self) -> dict[str, str | None]:
        """The variables that point ditsops at this sandbox (None: unset)."""
        settings: dict[str, str | None] = {
            name: None for name in os.environ if name.startswith(("DITSOPS_", "PG")) or name == "KUBECONFIG"
        }
        settings["XDG_CONFIG_HOME"] = str(self.home / "config")
        settings["XDG_STATE_HOME"] = str(self.home / "state")
        return settings


@contextmanager
def pointed_at(sandbox: Sandbox) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox.environment.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def sandbox_for_the_worker(tmp_path_factory: pytest.TempPathFactory, pg_bin_dir: Path) -> Iterator[Sandbox]:
    """`ditsops sandbox up` in a private XDG home, once per worker; down (and checked) at the end."""
    require_binary("prometheus", INSTALL_COMMAND)
    require_binary("prometheus-alertmanager", INSTALL_COMMAND)
    home = tmp_path_factory.mktemp("sandbox-home")
    for sub in ("config", "state"):
        (home / sub).mkdir()
    sandbox = Sandbox(home=home, state=SandboxState(), started=0.0)
    with pointed_at(sandbox):
        started = run_cli("sandbox", "up", timeout=120)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            state = load_state()
            assert state is not None
            sandbox.state, sandbox.started = state, time.monotonic()
            sandbox.found = {name: _deployment_shape(sandbox, name) for name in ("dits-server", "dits-worker")}
        except BaseException:
            lifecycle.down()
            raise
    yield sandbox
    with pointed_at(sandbox):
        report = lifecycle.down()
    assert not report.problems, report.problems


@pytest.fixture(scope="module")
def sandbox(sandbox_for_the_worker: Sandbox) -> Iterator[Sandbox]:
    """The worker's sandbox, with ditsops pointed at it for the module's tests."""
    with pointed_at(sandbox_for_the_worker):
        yield sandbox_for_the_worker


@pytest.fixture(autouse=True)
def _sandbox_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sandbox" not in request.fixturenames:
        yield
        return
    sandbox: Sandbox = request.getfixturevalue("sandbox")
    yield
    left = put_back(sandbox)
    if left:
        pytest.fail(
            f"{request.node.nodeid} left the shared sandbox changed (put back for the next test): " + "; ".join(left),
            pytrace=False,
        )


def put_back(sandbox: Sandbox) -> list[str]:
    """Restore what a test left behind in the sandbox; what it was, one phrase each."""
    left: list[str] = []
    state = load_state()
    assert state is not None, "the shared sandbox is gone (a test took it down)"
    active = [name for name, fault in state.faults.items() if sandbox_faults.FAULTS[name].is_active(state, fault)]
    if active:
        left.append(f"fault(s) still active: {', '.join(sorted(active))}")
    sandbox_faults.clear()  # ended ones too: the next inject starts from nothing
    kube = KubeHTTP(sandbox.url("kubeapi"))
    for name, found in sandbox.found.items():
        now = _deployment_shape(sandbox, name)
        if now["replicas"] != found["replicas"]:
            left.append(f"{name} scaled to {now['replicas']} (was {found['replicas']})")
            kube.request(
                "PATCH",
                kube.deployment_path(NAMESPACE, name),
                {"spec": {"replicas": found["replicas"]}},
                "application/merge-patch+json",
            )
        if now["containers"] != found["containers"]:
            left.append(f"{name}'s containers changed: {json.dumps(now['containers'])}")
            kube.restore_template(found["template"], None, NAMESPACE, name)
        kube.wait_for_rollout(NAMESPACE, name)
    left += _expire_silences(sandbox)
    left += _drop_held_leases(kube)
    left += _end_advisory_locks(sandbox)
    wait_until(lambda: at_rest(sandbox.prometheus), 180, "the sandbox at rest for the next test", **WATCH)
    return left


# A fault cleared still shows for one rate window: the next test starts once nothing fires
# or is pending and the numbers its runbooks gate on are back where a quiet system has
# them (the latency runbook's scale-out waits for the database's p99 to be ok).
AT_REST = (
    f"histogram_quantile(0.99, sum(rate(dits_db_query_duration_seconds_bucket[{SANDBOX_WINDOW}])) by (le)) < 0.1",
    f'100 * sum(rate(dits_http_requests_total{{status=~"5.."}}[{SANDBOX_WINDOW}]))'
    f" / sum(rate(dits_http_requests_total[{SANDBOX_WINDOW}])) < 1",
)


def at_rest(prometheus: str) -> bool:
    if prometheus_alerts(prometheus):
        return False
    for query in AT_REST:
        body = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
        if not body["data"]["result"]:  # the comparison filtered it out: not there yet
            return False
    return True


def _deployment_shape(sandbox: Sandbox, name: str) -> dict[str, Any]:
    deployment = KubeHTTP(sandbox.url("kubeapi")).get_deployment(NAMESPACE, name)
    template = deployment["spec"]["template"]
    return {
        "replicas": deployment["spec"].get("replicas"),
        "containers": [
            {"name": c["name"], "image": c.get("image"), "env": c.get("env") or []}
            for c in template["spec"]["containers"]
        ],
        "template": template,
    }


def _expire_silences(sandbox: Sandbox) -> list[str]:
    url = sandbox.url("alertmanager")
    active = [s for s in httpx.get(f"{url}/api/v2/silences", timeout=5).json() if s["status"]["state"] == "active"]
    for silence in active:
        httpx.delete(f"{url}/api/v2/silence/{silence['id']}", timeout=5).raise_for_status()
    return [f"silence {s['id']} ({s.get('comment', '')!r}) active" for s in active]


def _drop_held_leases(kube: KubeHTTP) -> list[str]:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases"
    left = []
    for lease in kube.request("GET", path).get("items") or []:
        spec = lease.get("spec") or {}
        renewed = spec.get("renewTime")
        if not spec.get("holderIdentity") or not renewed:
            continue
        expires = datetime.fromisoformat(renewed.replace("Z", "+00:00")).timestamp() + int(
            spec.get("leaseDurationSeconds") or 0
        )
        if expires > datetime.now(UTC).timestamp():
            name = lease["metadata"]["name"]
            left.append(f"Lease {name} held by {spec['holderIdentity']}")
            kube.request("DELETE", f"{path}/{name}")
    return left


def _end_advisory_locks(sandbox: Sandbox) -> list[str]:
    dsn = str(sandbox.state.profile()["dsn"])
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        holders = conn.execute(
            "SELECT DISTINCT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted"
        ).fetchall()
        for pid, _ in holders:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return [f"advisory lock held by pid {pid} ({app})" for pid, app in holders]


def ditsops_json(*args: str, codes: tuple[int, ...] = (0,), timeout: float = 120) -> tuple[int, Any]:
    """Run `ditsops --profile sandbox ARGS -o json`; (exit code, parsed stdout)."""
    done = run_cli("--profile", "sandbox", *args, "--output", "json", timeout=timeout)
    assert done.returncode in codes, f"ditsops {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None


def run_runbook(name: str, *extra: str) -> tuple[int, dict[str, Any]]:
    """A non-interactive run; (exit code, the JSON document) with steps by id."""
    done = run_cli(
        "--profile", "sandbox", "runbook", name, "--non-interactive", *extra, "--output", "json", timeout=400
    )
    assert done.stdout.strip(), f"runbook {name} printed no JSON (exit {done.returncode}): {done.stderr[-2000:]}"
    document = json.loads(done.stdout)
    document["by_id"] = {step["id"]: step for step in document["steps"]}
    return done.returncode, document


def prometheus_alerts(prometheus_url: str) -> dict[str, str]:
    """alertname -> state (pending or firing) as Prometheus sees them now."""
    body = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=5).json()
    return {alert["labels"]["alertname"]: alert["state"] for alert in body["data"]["alerts"]}


# How tests watch the sandbox with wait_until: twice a second, and an answer that fails
# (a service restarting under a fault) counts as "not yet".
WATCH: dict[str, Any] = {"interval": 0.5, "ignore": (httpx.HTTPError, ValueError)}


def firing_alerts(prometheus_url: str) -> set[str]:
    """The alerts firing now; pending ones are left out (they may still go either way)."""
    return {name for name, state in prometheus_alerts(prometheus_url).items() if state == "firing"}


def only_firing(prometheus_url: str, alerts: set[str], timeout: float = 30) -> None:
    """Exactly `alerts` fire, once the set has settled: an exact comparison counts only
    firing alerts, and waits (bounded) for one still resolving or about to fire."""
    wait_until(
        lambda: firing_alerts(prometheus_url),
        timeout,
        f"exactly {sorted(alerts)} firing",
        until=lambda firing: firing == alerts,
        **WATCH,
    )


def firing_within(prometheus_url: str, alerts: set[str], timeout: float) -> dict[str, str]:
    """Wait until every alert of `alerts` fires in Prometheus; returns all alerts then."""

    def all_firing() -> dict[str, str] | None:
        now = prometheus_alerts(prometheus_url)
        return now if all(now.get(a) == "firing" for a in alerts) else None

    return wait_until(all_firing, timeout, f"alerts {sorted(alerts)} firing", **WATCH)


def resolved_within(prometheus_url: str, alerts: set[str], timeout: float) -> None:
    wait_until(
        lambda: not (set(prometheus_alerts(prometheus_url)) & alerts),
        timeout,
        f"alerts {sorted(alerts)} resolved",
        **WATCH,
    )


def fault(*args: str) -> str:
    done = run_cli("sandbox", "fault", *args, timeout=120)
    assert done.returncode == 0, f"sandbox fault {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout
