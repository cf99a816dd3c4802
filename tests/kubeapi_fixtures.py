"""Fixtures for the in-memory Kubernetes API tests (registered for every test module
through `pytest_plugins` in tests/conftest.py: request them by name, never import them)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import require_binary

READY_DELAY = 0.05  # pods become Ready quickly, so rollouts take a fraction of a second


@pytest.fixture
def kubeapi() -> Iterator[KubeAPIServer]:
    """A running server with the controller thread, empty but for nothing."""
    with KubeAPIServer(ready_delay=READY_DELAY) as server:
        yield server


@pytest.fixture
def seeded(kubeapi: KubeAPIServer) -> KubeAPIServer:
    """The server with namespace dits, dits-server (3 replicas) and dits-worker (2), available."""
    kubeapi.seed_dits()
    return kubeapi


@pytest.fixture
def kubeconfig(kubeapi: KubeAPIServer, tmp_path: Path) -> Path:
    return kubeapi.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[Any]:
    """The official client configured from the kubeconfig the server wrote."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kubeconfig))
    yield client
    client.close()


@pytest.fixture
def apps(api_client: Any) -> Any:
    from kubernetes import client

    return client.AppsV1Api(api_client)


@pytest.fixture
def core(api_client: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client)


@dataclass
class Kubectl:
    binary: Path
    kubeconfig: Path
    cache_dir: Path

    def __call__(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.cache_dir.parent), "KUBECONFIG": str(self.kubeconfig)}
        result = subprocess.run(
            [str(self.binary), "--cache-dir", str(self.cache_dir), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    binary = require_binary("kubectl", "apt-get install kubectl (or download v1.32 from dl.k8s.io)")
    return Kubectl(binary, kubeconfig, tmp_path / "kube-cache")


def deployment_body(
    name: str, image: str = "registry.dits.dev/app:1.0", replicas: int = 3, **spec: Any
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}},
            **spec,
        },
    }
