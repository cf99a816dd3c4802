"""One whole sandbox (`ditsops sandbox up`) per test module, and helpers to watch it.

The `sandbox` fixture is registered through `pytest_plugins` in tests/conftest.py; it is
module-scoped, so every test module that requests it gets its own sandbox. The sandbox
runs real PostgreSQL, Prometheus and Alertmanager, so a module shares one: starting it
takes a few seconds, and Prometheus needs history for some alerts.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ditsops.sandbox import lifecycle
from ditsops.sandbox.promstack import INSTALL_COMMAND
from ditsops.sandbox.state import SandboxState, load_state
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until


@dataclass
class Sandbox:
    home: Path  # holds the XDG config and state directories
    state: SandboxState
    started: float  # time.monotonic() when `up` returned

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


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, pg_bin_dir: Path) -> Iterator[Sandbox]:
    """`ditsops sandbox up` in a private XDG home; taken down (and checked) at the end."""
    require_binary("prometheus", INSTALL_COMMAND)
    require_binary("prometheus-alertmanager", INSTALL_COMMAND)
    home = tmp_path_factory.mktemp("sandbox-home")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("DITSOPS_", "PG")) or name == "KUBECONFIG":
                patch.delenv(name)
        for variable, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state")):
            (home / sub).mkdir()
            patch.setenv(variable, str(home / sub))
        started = run_cli("sandbox", "up", timeout=120)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            state = load_state()
            assert state is not None
            yield Sandbox(home=home, state=state, started=time.monotonic())
        finally:
            lifecycle.down()


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
