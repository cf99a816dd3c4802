"""Fixtures shared by the whole suite; the logic they use lives in the product modules.

Fixture modules are registered here, once, through `pytest_plugins`: a test requests a
fixture by name and never imports it. The `sandbox` of tests/sandboxfixtures.py is one
per test worker, shared by every module using it, and checked to be left as found after
each test.

The `services` marker (registered in pyproject.toml) marks tests that need a real service:
PostgreSQL, Prometheus, Alertmanager, the sandbox, the in-memory Kubernetes API server, or
real kubectl — and the modules that stand up loopback stand-ins for them
(tests/httpcapture.py: capturing and slow-drip servers) mark themselves.
`./scripts/test -m "not services"` runs the fast rest alone. The rule:

1. A test whose fixture closure (its fixtures and theirs, transitively) holds one of
   SERVICE_FIXTURES is marked automatically: that covers every test that drives the CLI
   against a service, since it gets the service's address from one of these fixtures.
2. A test that starts a service in its own body carries `@pytest.mark.services` itself.
3. A guard keeps the rule honest: in a test not marked `services`, starting PostgreSQL,
   Prometheus/Alertmanager or the Kubernetes API server in-process fails the test at once,
   saying to mark it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from ditsops.sandbox import promstack
from ditsops.sandbox.kubeapi import KubeAPIServer
from ditsops.sandbox.pgcluster import PG_INSTALL_HINT, PgCluster, candidate_bin_dirs, create_cluster
from tests.helpers import require_binary


def _ctrl_c_reaches_what_the_tests_start() -> None:
    """A suite started from a background job (`./scripts/test &`, a CI runner) inherits
    SIGINT ignored, and an ignored signal stays ignored across exec: every ditsops a test
    starts would then shrug off the Ctrl-C the test presses, and the test wait for nothing.
    A Python handler here is reset to the default in each child at exec, so children take
    Ctrl-C as they would from a shell; a blocked SIGINT is unblocked for the same reason."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


_ctrl_c_reaches_what_the_tests_start()  # in the controller and in every xdist worker

pytest_plugins = ["tests.kubeapi_fixtures", "tests.sandboxfixtures", "tests.pgsessions", "tests.diagrole_fixtures"]

# Fixtures that start (or find the binary of) a real service, shared or module-local.
# Module-local names (server, stack, ...) are service fixtures in every module defining them.
SERVICE_FIXTURES = frozenset(
    {
        "pg_bin_dir",
        "pg_cluster",  # PostgreSQL (pg_dsn, sessions and the sandbox depend on these)
        "sandbox",  # the whole sandbox: PostgreSQL, Prometheus, Alertmanager, simulator, Kubernetes API
        "kubeapi",
        "kubectl",  # the in-memory Kubernetes API server; real kubectl
        "server",
        "stepped",
        "lab",
        "twins",
        "slow_rollouts",
        "kube_rig",  # module-local Kubernetes API servers
        "alertmanager",
        "stack",
        "rigs",
        "promtool",  # Prometheus / Alertmanager binaries
        "simulator",  # the sandbox's simulator process
        "prometheus",  # module-local real Prometheus (tests/test_dash_corpus.py)
        "backend",
        "servers",
        "scripted",  # loopback stand-ins answering as a backend would (backend shapes, sizes, Kubernetes answers)
    }
)


# The slowest modules, slowest first (from ./scripts/test's --durations): started first.
# A module missing here still goes early when it uses the whole sandbox.
LONGEST_MODULES = (
    "test_incidents_servers.py",
    "test_sandbox_e2e.py",
    "test_incidents_database.py",
    "test_sandbox_fixes.py",
    "test_sandbox_db.py",
    "test_question_order.py",  # 2 x 20 walks through a pipe in a pty
    "test_dash_sandbox.py",
    "test_resume_sandbox.py",
    "test_incidents_load.py",
    "test_k8s_leases.py",
    "test_simulator.py",
    "test_sandbox_bad_deploy.py",
    "test_verify_outage.py",
    "test_store_outage.py",
    "test_incident_takeover.py",
    "test_sandbox_runbook.py",
    "test_dash_corpus.py",
    "test_monitoring_down.py",
    "test_incident_handoff.py",
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SERVICE_FIXTURES:
            item.add_marker(pytest.mark.services)
    # Longest first: the modules that walk incidents in a whole sandbox take a minute or more
    # each, the rest seconds. Handed to the workers (a file each, in this order) first, they
    # cannot be left for one worker at the end while the others idle. scripts/test keeps this
    # order with --no-loadscope-reorder (xdist otherwise reorders files by their number of
    # tests, which sent every incident walk to the end of the run). Order within a file is kept.
    whole_sandbox = {item.path for item in items if "sandbox" in getattr(item, "fixturenames", ())}

    def weight(item: pytest.Item) -> tuple[int, int]:
        known = LONGEST_MODULES.index(item.path.name) if item.path.name in LONGEST_MODULES else len(LONGEST_MODULES)
        return (item.path not in whole_sandbox and known == len(LONGEST_MODULES), known)

    items.sort(key=weight)


@pytest.fixture(autouse=True)
def _services_only_where_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a real service in a test not marked `services` fails that test (rule 3)."""
    if request.node.get_closest_marker("services"):
        return

    def refuse(*_: object, **__: object) -> None:
        pytest.fail(
            f"{request.node.nodeid} starts a real service: mark it @pytest.mark.services "
            "(or request a fixture of SERVICE_FIXTURES in tests/conftest.py)",
            pytrace=False,
        )

    monkeypatch.setattr(KubeAPIServer, "start", refuse)
    monkeypatch.setattr(PgCluster, "start", refuse)
    monkeypatch.setattr(promstack, "_launch", refuse)


@pytest.fixture(autouse=True)
def _terminals_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every pseudo-terminal a test opens is closed when the test ends, its child killed if
    it still runs: a test that fails while its ditsops waits at a question must not leave
    that process holding a lease for the next test (which would then be asked `Go on
    anyway?` and fail too, hiding the first failure among the next ones)."""
    import pexpect

    opened: list[pexpect.spawn] = []

    class Closed(pexpect.spawn):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(pexpect, "spawn", Closed)
    yield
    for child in opened:
        if not child.closed:
            child.close(force=True)


class IsolatedHome(NamedTuple):
    config: Path  # XDG_CONFIG_HOME
    state: Path  # XDG_STATE_HOME


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedHome:
    """XDG config, state and cache in tmp dirs, and no DITSOPS_* or libpq PG* settings leaking in."""
    for name in list(os.environ):
        if name.startswith(("DITSOPS_", "PG")):
            monkeypatch.delenv(name)
    home = IsolatedHome(config=tmp_path / "config", state=tmp_path / "state")
    for directory in home:
        directory.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home.config))
    monkeypatch.setenv("XDG_STATE_HOME", str(home.state))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the runbook index (core/runbook_index.py)
    return home


@pytest.fixture(scope="session")
def pg_bin_dir() -> Path:
    """The PostgreSQL server bin dir; skips locally (fails in CI) when it is not installed."""
    initdb = require_binary("initdb", PG_INSTALL_HINT, search=[str(directory) for directory in candidate_bin_dirs()])
    return initdb.parent


@pytest.fixture(scope="session")
def pg_cluster(pg_bin_dir: Path) -> Iterator[PgCluster]:
    """One throwaway PostgreSQL for the whole session (max_connections=100)."""
    cluster = create_cluster(max_connections=100, bin_dir=pg_bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> str:
    return pg_cluster.dsn
