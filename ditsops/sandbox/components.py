"""The pieces of the sandbox, each a `ComponentKind`: how to start, check and stop it.

Started in the order of `COMPONENTS`, each after what it needs, and stopped in reverse:

    postgres      throwaway cluster (pgcluster.py), plus the `dits` role the server uses
                  and the `ditsops_diag` role diagnostics run as (pgroles.py)
    kubeapi       the in-memory Kubernetes API (kubecluster.py), seeded with dits-server
                  and dits-worker deployed three days ago
    simulator     the Dits server simulator: DSN of the `dits` role (from the environment),
                  deployed image read from kubeapi, faults from its control file
    alertmanager  real Alertmanager, its only receiver discarding everything
    prometheus    real Prometheus scraping the simulator with the sandbox alert rules

Every process runs in its own session (it outlives `ditsops sandbox up`) with its files
in one directory, so stopping it is a pid and removing it is that directory.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.sandbox import kubesource, promstack
from ditsops.sandbox.pgcluster import PgCluster, create_cluster, find_pg_bin
from ditsops.sandbox.pgroles import APP_ROLE, DIAGNOSTICS_ROLE, create_app_role, create_diagnostics_role, role_dsn
from ditsops.sandbox.ports import free_port, wait_for_port
from ditsops.sandbox.profileparams import SANDBOX_PARAMS  # the profile's runbook parameters
from ditsops.sandbox.recordstore import create_record_store, record_store_dsn
from ditsops.sandbox.state import Component, ensure_sandbox_dir, stop_process

POSTGRES, KUBEAPI, SIMULATOR, ALERTMANAGER, PROMETHEUS = (
    "postgres",
    "kubeapi",
    "simulator",
    "alertmanager",
    "prometheus",
)
# Sized for db-exhaustion (load.plan_load): its load takes more than 90% of the connections
# and still leaves one each for the diagnostics role and the record store's writer (roles
# that are not superusers), and the superuser slots for the operator's ditsops (its
# action and lease sessions) and a look with psql.
SANDBOX_MAX_CONNECTIONS = 70
SANDBOX_SUPERUSER_RESERVED = 4
KUBE_CONTEXT = "sandbox"
NAMESPACE = "dits"
KUBE_READY_DELAY = 0.5  # seconds from pod creation to Ready: a rollout of 3 pods takes 2-3 s
SIM_DSN_ENV = "DITS_SIM_DSN"
START_TIMEOUT = 30.0

# Saves a component's record as soon as it exists, so that a crash halfway through
# `up` still leaves enough in the state file for `down` to clean up.
RecordComponent = Callable[[Component], None]

# Popen objects of what this process started: kept so that Python does not warn about a
# "subprocess still running" when `up` runs inside a longer-lived process (the tests).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ComponentKind:
    name: str
    # Gets the components started before it (its dependencies) by name.
    start: Callable[[RecordComponent, dict[str, Component]], Component]
    # Answers its own health endpoint (not just "the process exists").
    healthy: Callable[[Component], bool]
    # Stops the component's processes and removes its data; returns the paths removed.
    stop: Callable[[Component], list[str]]
    alive: Callable[[Component], bool] = Component.is_alive


@dataclass(frozen=True)
class Requirement:
    what: str
    package: str  # the Debian package that provides it
    found: Callable[[], bool]


def _pg_found() -> bool:
    try:
        find_pg_bin()
    except DitsopsError:
        return False
    return True


REQUIREMENTS = (
    Requirement("PostgreSQL server (initdb, pg_ctl)", "postgresql", _pg_found),
    Requirement(
        "Prometheus (prometheus)", "prometheus", lambda: any(shutil.which(n) for n in promstack.PROMETHEUS_BINARIES)
    ),
    Requirement(
        "Alertmanager (prometheus-alertmanager)",
        "prometheus-alertmanager",
        lambda: any(shutil.which(n) for n in promstack.ALERTMANAGER_BINARIES),
    ),
)


def check_requirements() -> None:
    """Fail before starting anything when a service binary is missing: one line, the fix in it."""
    missing = [requirement for requirement in REQUIREMENTS if not requirement.found()]
    if missing:
        packages = " ".join(requirement.package for requirement in missing)
        raise DitsopsError(
            f"the sandbox needs {', '.join(r.what for r in missing)}, not installed "
            f"(Debian package{'s' if len(missing) > 1 else ''} {packages}); "
            f"install with: apt-get install --no-install-recommends {packages}"
        )


# --- helpers ------------------------------------------------------------------------


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def component_dir(name: str) -> Path:
    return ensure_sandbox_dir() / name


def _remove_dir(component: Component) -> list[str]:
    """Delete the component's directory, but only one inside the sandbox directory."""
    if not component.data_dir:
        return []
    directory = Path(component.data_dir)
    sandbox = ensure_sandbox_dir().resolve()
    if sandbox not in directory.resolve().parents:
        raise DitsopsError(f"refusing to remove {directory}: not inside {sandbox}")
    if not directory.exists():
        return []
    shutil.rmtree(directory, ignore_errors=True)
    if directory.exists():
        raise DitsopsError(f"could not remove {directory}")
    return [str(directory)]


def _spawn(
    argv: list[str], directory: Path, log_name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with (directory / log_name).open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
            start_new_session=True,  # outlives the CLI and its terminal's Ctrl-C
        )
    _CHILDREN[process.pid] = process
    return process


def _wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    what: str,
    log_file: Path,
    timeout: float = START_TIMEOUT,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DitsopsError(f"{what} exited with status {process.returncode} while starting: {_log_tail(log_file)}")
        if ready():
            return
        time.sleep(0.1)
    raise DitsopsError(f"{what} was not ready within {timeout:.0f} s: {_log_tail(log_file)}")


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "no log"
    meaningful = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(meaningful[-lines:]) + f" (log: {path})" if meaningful else f"empty log {path}"


def _stop_and_remove(component: Component) -> list[str]:
    stop_process(component.pid, component.cmdline_marker, timeout=10.0)
    child = _CHILDREN.pop(component.pid or 0, None)
    if child is not None:
        child.poll()
    return _remove_dir(component)


# --- postgres -----------------------------------------------------------------------


def _start_postgres(record: RecordComponent, started: dict[str, Component]) -> Component:
    cluster = create_cluster(max_connections=SANDBOX_MAX_CONNECTIONS, superuser_reserved=SANDBOX_SUPERUSER_RESERVED)
    component = _postgres_component(cluster, pid=None, app_password=None)
    record(component)  # the data dir exists from here on; `down` must find it
    cluster.start()
    component = _postgres_component(cluster, pid=cluster.pid(), app_password=None)
    record(component)
    app_password = secrets.token_urlsafe(24)
    create_app_role(cluster, app_password)
    diagnostics_password = secrets.token_urlsafe(24)
    create_diagnostics_role(cluster, diagnostics_password)
    store_password = secrets.token_urlsafe(24)
    create_record_store(cluster, store_password)
    return _postgres_component(
        cluster,
        pid=cluster.pid(),
        app_password=app_password,
        diagnostics_password=diagnostics_password,
        store_password=store_password,
    )


def app_dsn(component: Component) -> str:
    """DSN of the `dits` role (the cluster's superuser DSN for a cluster without one)."""
    cluster = PgCluster.from_dict(component.details)
    password = component.details.get("app_password")
    if not password:
        return cluster.dsn
    return role_dsn(cluster, APP_ROLE, str(password))


def _postgres_component(
    cluster: PgCluster,
    pid: int | None,
    app_password: str | None,
    diagnostics_password: str | None = None,
    store_password: str | None = None,
) -> Component:
    details: dict[str, Any] = cluster.to_dict()
    if app_password:
        details.update(app_user=APP_ROLE, app_password=app_password)
    if store_password:
        details.update(store_password=store_password)
    store = record_store_dsn(details)
    profile: dict[str, object] = {"dsn": cluster.dsn, **({"record_store": store} if store else {})}
    if diagnostics_password:
        # The operator acts as the superuser; every diagnostic runs as the role that can do no harm.
        details.update(diagnostics_user=DIAGNOSTICS_ROLE)
        profile["diagnostics_dsn"] = role_dsn(cluster, DIAGNOSTICS_ROLE, diagnostics_password)
    return Component(
        name=POSTGRES,
        pid=pid,
        port=cluster.port,
        url=cluster.masked_dsn,
        data_dir=str(cluster.root_dir),
        cmdline_marker=cluster.cmdline_marker,
        profile=profile,
        details=details,
    )


def _postgres_alive(component: Component) -> bool:
    cluster = PgCluster.from_dict(component.details)
    return component.is_alive() and cluster.is_running()


def _postgres_healthy(component: Component) -> bool:
    cluster = PgCluster.from_dict(component.details)
    pg_isready = cluster.bin_dir / "pg_isready"
    if not pg_isready.exists():
        return _postgres_alive(component) and wait_for_port(cluster.port, cluster.host, timeout=1.0)
    done = subprocess.run(
        [str(pg_isready), "-q", "-h", cluster.host, "-p", str(cluster.port), "-t", "2"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd="/",
    )
    return done.returncode == 0


def _stop_postgres(component: Component) -> list[str]:
    cluster = PgCluster.from_dict(component.details)
    cluster.stop()
    # postmaster.pid may be gone (data dir deleted by hand) while the server still runs.
    stop_process(component.pid, component.cmdline_marker, timeout=5.0, whole_group=True)
    existed = cluster.root_dir.exists()
    cluster.destroy()
    return [str(cluster.root_dir)] if existed else []


# --- kubeapi ------------------------------------------------------------------------


def _start_kubeapi(record: RecordComponent, started: dict[str, Component]) -> Component:
    directory = component_dir(KUBEAPI)
    directory.mkdir(mode=0o700, exist_ok=True)
    port = free_port()
    kubeconfig = directory / "kubeconfig"
    marker = f"ditsops.sandbox.kubecluster --port {port}"
    component = Component(
        name=KUBEAPI,
        port=port,
        url=f"http://127.0.0.1:{port}",
        data_dir=str(directory),
        cmdline_marker=marker,
        profile={"kubeconfig": str(kubeconfig), "kube_context": KUBE_CONTEXT, "namespace": NAMESPACE},
        details={"kubeconfig": str(kubeconfig), "log_file": str(directory / "kubeapi.log")},
    )
    record(component)
    process = _spawn(
        [
            sys.executable,
            "-m",
            "ditsops.sandbox.kubecluster",
            "--port",
            str(port),
            "--kubeconfig",
            str(kubeconfig),
            "--context",
            KUBE_CONTEXT,
            "--namespace",
            NAMESPACE,
            "--ready-delay",
            str(KUBE_READY_DELAY),
        ],
        directory,
        "kubeapi.log",
    )
    component.pid = process.pid
    record(component)
    log_file = directory / "kubeapi.log"
    # kubecluster.LISTENING, printed once the seeded deployments have rolled out (not
    # imported: that would load the whole API server into every `ditsops sandbox` command).
    _wait_until(
        lambda: "kubeapi listening on" in log_file.read_text(errors="replace"), process, "the Kubernetes API", log_file
    )
    return component


def _kubeapi_healthy(component: Component) -> bool:
    return http_ok(f"{component.url}/version")


# --- simulator ----------------------------------------------------------------------


def _start_simulator(record: RecordComponent, started: dict[str, Component]) -> Component:
    directory = component_dir(SIMULATOR)
    directory.mkdir(mode=0o700, exist_ok=True)
    port = free_port()
    control_file = directory / "faults.json"
    kube_url = started[KUBEAPI].url or ""
    marker = f"ditsops.sandbox.simulator --port {port}"
    component = Component(
        name=SIMULATOR,
        port=port,
        url=f"http://127.0.0.1:{port}",
        data_dir=str(directory),
        cmdline_marker=marker,
        profile={"dits_url": f"http://127.0.0.1:{port}"},
        details={"control_file": str(control_file), "log_file": str(directory / "simulator.log"), "kube_url": kube_url},
    )
    record(component)
    env = {key: value for key, value in os.environ.items() if key != SIM_DSN_ENV}
    env[SIM_DSN_ENV] = app_dsn(started[POSTGRES])  # never on the command line: `ps` shows that
    process = _spawn(
        [
            sys.executable,
            "-m",
            "ditsops.sandbox.simulator",
            "--port",
            str(port),
            "--control-file",
            str(control_file),
            "--dsn-env",
            SIM_DSN_ENV,
            "--kube-url",
            kube_url,
            "--kube-namespace",
            NAMESPACE,
        ],
        directory,
        "simulator.log",
        env=env,
    )
    component.pid = process.pid
    record(component)
    _wait_until(lambda: _simulator_healthy(component), process, "the Dits simulator", directory / "simulator.log")
    return component


def _simulator_healthy(component: Component) -> bool:
    return http_ok(f"{component.url}/health/live")


# --- alertmanager and prometheus ----------------------------------------------------


def _start_alertmanager(record: RecordComponent, started: dict[str, Component]) -> Component:
    directory = component_dir(ALERTMANAGER)
    record(Component(name=ALERTMANAGER, data_dir=str(directory)))
    service = promstack.start_alertmanager(directory)
    return _service_component(service, {"alertmanager_url": service.url})


def _start_prometheus(record: RecordComponent, started: dict[str, Component]) -> Component:
    directory = component_dir(PROMETHEUS)
    record(Component(name=PROMETHEUS, data_dir=str(directory)))
    rules_file = promstack.write_sandbox_rules(directory)
    simulator, alertmanager = started[SIMULATOR], started[ALERTMANAGER]
    service = promstack.start_prometheus(directory, [f"127.0.0.1:{simulator.port}"], alertmanager.port or 0, rules_file)
    component = _service_component(service, {"prometheus_url": service.url, "params": dict(SANDBOX_PARAMS)})
    component.details["rules_file"] = str(rules_file)
    record(component)
    # Ready to use means something to query: two scrapes of the simulator, so that rate()
    # has its two samples and `up` exists when the first runbook runs.
    query = urllib.parse.urlencode({"query": f'count_over_time(up{{job="{promstack.SCRAPE_JOB}"}}[1m]) >= 2'})
    deadline = time.monotonic() + START_TIMEOUT
    while not _has_result(f"{service.url}/api/v1/query?{query}"):
        if time.monotonic() > deadline:
            raise DitsopsError(
                f"Prometheus did not scrape the simulator within {START_TIMEOUT:.0f} s (log: {service.log_file})"
            )
        time.sleep(0.2)
    return component


def _has_result(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(json.loads(response.read())["data"]["result"])
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return False


def _service_component(service: promstack.ServiceProcess, profile: dict[str, object]) -> Component:
    return Component(
        name=service.name,
        pid=service.pid,
        port=service.port,
        url=service.url,
        data_dir=str(service.directory),
        cmdline_marker=service.cmdline_marker,
        profile=profile,
        details={"log_file": str(service.log_file), "config_file": str(service.config_file)},
    )


def _ready_endpoint_ok(component: Component) -> bool:
    return http_ok(f"{component.url}/-/ready")


def _stop_service(component: Component) -> list[str]:
    if component.pid:
        promstack.stop(component.pid, component.cmdline_marker)
    return _remove_dir(component)


COMPONENTS: list[ComponentKind] = [
    ComponentKind(POSTGRES, _start_postgres, _postgres_healthy, _stop_postgres, alive=_postgres_alive),
    ComponentKind(KUBEAPI, _start_kubeapi, _kubeapi_healthy, _stop_and_remove),
    ComponentKind(SIMULATOR, _start_simulator, _simulator_healthy, _stop_and_remove),
    ComponentKind(ALERTMANAGER, _start_alertmanager, _ready_endpoint_ok, _stop_service),
    ComponentKind(PROMETHEUS, _start_prometheus, _ready_endpoint_ok, _stop_service),
]


def kube_client(state_components: dict[str, Component]) -> kubesource.KubeHTTP:
    component = state_components.get(KUBEAPI)
    if component is None or not component.url:
        raise DitsopsError("the sandbox has no Kubernetes API", hint="restart it with: ditsops sandbox up")
    return kubesource.KubeHTTP(component.url)
