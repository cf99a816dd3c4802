"""Facts ditsops states about rollouts, side by side with kubectl on the same objects:
when a revision rolled out (a rollback makes an old ReplicaSet current again, it is not
created anew), a rollback to the template already running (kubectl skips it), and the
restartedAt stamp (kubectl writes RFC3339 in UTC as `Z`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli
from tests.helpers import require_binary
from tests.kubeapi_fixtures import Kubectl

pytestmark = pytest.mark.services  # each test starts its own Kubernetes API server

NS = "dits"
IMAGE_1 = "registry.dits.dev/dits-server:1.4.2"  # what seed_dits deploys
IMAGE_2 = "registry.dits.dev/dits-server:1.5.0"
THREE_DAYS = 3 * 24 * 3600


@pytest.fixture
def aged(tmp_path: Path, isolated_home) -> Iterator[tuple[KubeAPIServer, Kubectl, dict[str, str]]]:
    """dits-server seeded (revision 1) and deployed 1.5.0 (revision 2), both three days ago
    on the server's clock; the clock is real again when the test starts."""
    server = KubeAPIServer(ready_delay=0.05)
    real_clock = server.store.clock
    server.store.clock = lambda: real_clock() - THREE_DAYS
    server.start()
    try:
        config = server.write_kubeconfig(tmp_path / "kubeconfig")
        kubectl = Kubectl(require_binary("kubectl", "apt-get install kubectl"), config, tmp_path / "kube-cache")
        server.seed_dits()
        kubectl("set", "image", "deployment/dits-server", f"dits-server={IMAGE_2}")
        server.wait_for_rollout(NS, "dits-server")
        assert server.settle()
        server.store.clock = real_clock
        yield server, kubectl, {"KUBECONFIG": str(config)}
    finally:
        server.stop()


def history_json(env: dict[str, str]) -> list[dict[str, Any]]:
    done = run_cli("k8s", "history", "dits-server", "-o", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    return data["data"] if isinstance(data, dict) and "data" in data else data


def snapshot(server: KubeAPIServer) -> tuple[Any, ...]:
    d = server.get("deployments", NS, "dits-server")
    return d["metadata"]["resourceVersion"], d["metadata"]["generation"], d["spec"], d["metadata"].get("annotations")


@pytest.mark.parametrize(
    "back",
    [
        ("rollout", "undo", "deployment/dits-server"),
        ("set", "image", "deployment/dits-server", f"dits-server={IMAGE_1}"),
    ],
    ids=["kubectl-rollout-undo", "kubectl-set-image-to-an-old-template"],
)
def test_a_rollback_rolled_out_now_not_when_its_replicaset_was_created(aged, back) -> None:
    server, kubectl, env = aged
    kubectl(*back)
    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()

    revisions = {r["number"]: r for r in history_json(env)}
    current = revisions[3]
    assert current["current"] and current["images"] == [IMAGE_1]
    assert current["created"] > THREE_DAYS - 600  # the ReplicaSet of revision 1, renumbered, not new
    assert current["age"] < 600, current  # but it became current just now
    assert revisions[2]["age"] > THREE_DAYS - 600  # a past revision keeps its ReplicaSet's age

    done = run_cli("k8s", "history", "dits-server", env={**env, "COLUMNS": "80"})
    row = next(line for line in done.stdout.splitlines() if re.match(r"^\s*3\s+current", line))
    assert not re.search(r"\b[23]d", row), done.stdout  # not "3d00h"


def test_undo_to_the_template_already_running_is_skipped_like_kubectl(aged) -> None:
    server, kubectl, env = aged
    kubectl("rollout", "undo", "deployment/dits-server")  # kubectl sends `creationTimestamp: null`
    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()
    before = snapshot(server)
    assert "creationTimestamp" in server.get("deployments", NS, "dits-server")["spec"]["template"]["metadata"]

    done = run_cli("k8s", "undo", "dits-server", "--to-revision", "3", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped rollback (current template already matches revision 3)" in done.stdout + done.stderr
    assert snapshot(server) == before  # nothing applied

    reference = kubectl("rollout", "undo", "deployment/dits-server", "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in reference.stdout
    assert snapshot(server) == before


def test_restarted_at_is_written_as_kubectl_writes_it(aged) -> None:
    server, _, env = aged
    done = run_cli("k8s", "restart", "dits-server", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    template = server.get("deployments", NS, "dits-server")["spec"]["template"]
    stamp = template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp), stamp


def test_the_runbook_step_says_a_rollback_just_rolled_out(aged, tmp_path) -> None:
    """high-error-rate's `recent-rollouts below 3600` reads this value: a rollback made a
    minute ago is a recent rollout, though its ReplicaSet is three days old."""
    server, kubectl, env = aged
    kubectl("rollout", "undo", "deployment/dits-server")
    server.wait_for_rollout(NS, "dits-server")
    runbook = tmp_path / "recent.yaml"
    runbook.write_text(
        "name: recent\ntitle: Recent rollouts\nsteps:\n"
        "  - id: recent-rollouts\n    title: Rollouts\n    kube: rollout-history\n"
        "    deployment: dits-server\n    namespace: dits\n"
    )
    done = run_cli("runbook", str(runbook), "-o", "json", env={**env, "COLUMNS": "80"})
    data = json.loads(done.stdout)
    [step] = data["steps"]
    assert step["value"] < 600, step
    assert re.search(r"rolled out [\d.]+s ago", step["summary"]), step
