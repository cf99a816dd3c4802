"""Real kubectl against the in-memory API: reads, rollouts, rollbacks, scaling, logs.

Each test checks the resulting state through the server, not just kubectl's output.
"""

from __future__ import annotations

import re
from typing import Any

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import wait_until
from tests.kubeapi_fixtures import Kubectl

REVISION = "deployment.kubernetes.io/revision"


def revisions(server: KubeAPIServer, name: str = "dits-server") -> dict[str, dict[str, Any]]:
    """ReplicaSets owned by the deployment, by revision."""
    uid = server.get("deployments", "dits", name)["metadata"]["uid"]
    return {
        rs["metadata"]["annotations"][REVISION]: rs
        for rs in server.list("replicasets", "dits")
        if rs["metadata"]["ownerReferences"][0]["uid"] == uid
    }


def env_of(server: KubeAPIServer, name: str = "dits-server") -> dict[str, str]:
    container = server.get("deployments", "dits", name)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_get_deployments_replicasets_and_pods(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    out = kubectl("get", "deploy,rs,pods", "-n", "dits").stdout
    assert re.search(r"deployment\.apps/dits-server\s+3/3\s+3\s+3\s+\d+s", out)
    assert re.search(r"deployment\.apps/dits-worker\s+2/2\s+2\s+2", out)
    assert re.search(r"replicaset\.apps/dits-server-\w+\s+3\s+3\s+3", out)
    assert len(re.findall(r"pod/dits-server-\w+-\w{5}\s+1/1\s+Running\s+0", out)) == 3
    wide = kubectl("get", "deploy", "dits-server", "-o", "wide").stdout
    assert "registry.dits.dev/dits-server:1.4.2" in wide and "app=dits-server" in wide
    yaml_out = kubectl("get", "deploy", "dits-server", "-o", "jsonpath={.status.conditions[*].reason}").stdout
    assert yaml_out == "MinimumReplicasAvailable NewReplicaSetAvailable"
    described = kubectl("describe", "deployment", "dits-server").stdout
    assert "NewReplicaSet:" in described and "ScalingReplicaSet" in described
    events = kubectl("get", "events", "--field-selector", "involvedObject.kind=Deployment").stdout
    assert "Scaled up replica set dits-server-" in events


def test_set_env_set_image_and_undo_to_revision_one(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    history = kubectl("rollout", "history", "deployment/dits-server").stdout
    assert re.search(r"^1\s+initial deploy of dits-server 1.4.2$", history, re.M)
    assert "env updated" in kubectl("set", "env", "deployment/dits-server", "DATABASE_POOL_SIZE=40", "X=Y").stdout
    status = kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s").stdout
    assert status.strip().endswith('deployment "dits-server" successfully rolled out')
    assert env_of(seeded) == {"DATABASE_POOL_SIZE": "40", "X": "Y"}
    by_revision = revisions(seeded)
    assert sorted(by_revision) == ["1", "2"]
    assert by_revision["1"]["spec"]["replicas"] == 0 and by_revision["2"]["status"]["availableReplicas"] == 3
    assert re.search(r"^2\s+", kubectl("rollout", "history", "deployment/dits-server").stdout, re.M)
    kubectl("set", "image", "deployment/dits-server", "dits-server=registry.dits.dev/dits-server:1.5.0")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    assert sorted(revisions(seeded)) == ["1", "2", "3"]
    original = revisions(seeded)["1"]["metadata"]["name"]

    kubectl("rollout", "undo", "deployment/dits-server", "--to-revision=1")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    by_revision = revisions(seeded)
    assert sorted(by_revision) == ["2", "3", "4"] and by_revision["4"]["metadata"]["name"] == original
    container = seeded.get("deployments", "dits", "dits-server")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.dits.dev/dits-server:1.4.2" and env_of(seeded) == {
        "DATABASE_POOL_SIZE": "20"
    }


def test_rollout_undo_and_to_revision(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    kubectl("set", "env", "deployment/dits-server", "DATABASE_POOL_SIZE=5")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    original = revisions(seeded)["1"]["metadata"]["name"]
    assert "rolled back" in kubectl("rollout", "undo", "deployment/dits-server").stdout
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    by_revision = revisions(seeded)
    assert sorted(by_revision) == ["2", "3"]  # revision 1's ReplicaSet came back as 3
    assert by_revision["3"]["metadata"]["name"] == original
    assert by_revision["3"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert env_of(seeded) == {"DATABASE_POOL_SIZE": "20"}
    assert seeded.get("deployments", "dits", "dits-server")["metadata"]["annotations"][REVISION] == "3"

    kubectl("rollout", "undo", "deployment/dits-server", "--to-revision=2")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    assert env_of(seeded) == {"DATABASE_POOL_SIZE": "5"} and sorted(revisions(seeded)) == ["3", "4"]
    missing = kubectl("rollout", "undo", "deployment/dits-server", "--to-revision=1", check=False)
    assert missing.returncode != 0 and "unable to find specified revision 1 in history" in missing.stderr
    same = kubectl("rollout", "undo", "deployment/dits-server", "--to-revision=4").stdout
    assert "skipped rollback (current template already matches revision 4)" in same


def test_rollout_restart_pause_and_resume(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    before = {p["metadata"]["name"] for p in seeded.list("pods", "dits", "app=dits-server")}
    assert "restarted" in kubectl("rollout", "restart", "deployment/dits-server").stdout
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    template = seeded.get("deployments", "dits", "dits-server")["spec"]["template"]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    )
    after = {p["metadata"]["name"] for p in seeded.list("pods", "dits", "app=dits-server")}
    assert len(after) == 3 and not before & after and sorted(revisions(seeded)) == ["1", "2"]
    kubectl("rollout", "pause", "deployment/dits-server")
    refused = kubectl("rollout", "undo", "deployment/dits-server", check=False)
    assert "you cannot rollback a paused deployment" in refused.stderr
    kubectl("set", "env", "deployment/dits-server", "Z=1")
    wait_until(
        lambda: (
            (d := seeded.get("deployments", "dits", "dits-server"))["status"]["observedGeneration"]
            == d["metadata"]["generation"]
        )
    )
    assert sorted(revisions(seeded)) == ["1", "2"]  # paused: the change is seen, but no new ReplicaSet
    kubectl("rollout", "resume", "deployment/dits-server")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    assert sorted(revisions(seeded)) == ["1", "2", "3"]


def test_scale_and_current_replicas_precondition(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    kubectl("scale", "deployment/dits-server", "--replicas=4")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    assert seeded.get("deployments", "dits", "dits-server")["status"]["availableReplicas"] == 4
    wrong = kubectl("scale", "deployment/dits-server", "--current-replicas=3", "--replicas=5", check=False)
    assert wrong.returncode != 0 and "Expected replicas to be 3, was 4" in wrong.stderr
    assert seeded.get("deployments", "dits", "dits-server")["spec"]["replicas"] == 4
    kubectl("scale", "deployment/dits-server", "--current-replicas=4", "--replicas=5")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=30s")
    deployment = seeded.get("deployments", "dits", "dits-server")
    assert deployment["spec"]["replicas"] == 5 and deployment["status"]["readyReplicas"] == 5
    assert sorted(revisions(seeded)) == ["1"]  # scaling is not a rollout


def test_logs_by_selector_with_prefix(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    seeded.append_log("dits", "app=dits-server", [f"request {i} ok" for i in range(10)])
    out = kubectl("logs", "-l", "app=dits-server", "--tail=5", "--prefix").stdout.splitlines()
    pods = sorted(p["metadata"]["name"] for p in seeded.list("pods", "dits", "app=dits-server"))
    assert len(out) == 15
    for pod in pods:
        mine = [line for line in out if line.startswith(f"[pod/{pod}/dits-server] ")]
        assert [line.split("] ", 1)[1] for line in mine] == [f"request {i} ok" for i in range(5, 10)]
    single = kubectl("logs", f"pod/{pods[0]}", "--tail=1").stdout
    assert single == "request 9 ok\n"
    previous = kubectl("logs", f"pod/{pods[0]}", "--previous", check=False)
    assert previous.returncode != 0 and "previous terminated container" in previous.stderr


def test_apply_and_server_dry_run(seeded: KubeAPIServer, kubectl: Kubectl, tmp_path: Any) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text("""apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.dits.dev/web:1"}]}
""")
    assert "created (server dry run)" in kubectl("apply", "-f", str(manifest), "--dry-run=server").stdout
    assert seeded.store.try_get("deployments", "dits", "web") is None
    kubectl("apply", "-f", str(manifest))
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    manifest.write_text(manifest.read_text().replace("web:1", "web:2"))
    assert "configured" in kubectl("apply", "-f", str(manifest)).stdout
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert sorted(revisions(seeded, "web")) == ["1", "2"]
    kubectl("delete", "-f", str(manifest))
    assert seeded.list("replicasets", "dits", "app=web") == [] and seeded.list("pods", "dits", "app=web") == []


def test_runs_as_a_process_with_a_kubeconfig(tmp_path: Any) -> None:
    import signal
    import subprocess
    import sys

    from ditsops.sandbox.ports import free_port
    from tests.helpers import require_binary

    binary = require_binary("kubectl", "apt-get install kubectl (or download v1.32 from dl.k8s.io)")
    port, config = free_port(), tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ditsops.sandbox.kubeapi",
            "--port",
            str(port),
            "--kubeconfig",
            str(config),
            "--seed",
            "dits",
            "--ready-delay",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"kubeapi listening on http://127.0.0.1:{port}"
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        out = subprocess.run(
            [
                str(binary),
                "--kubeconfig",
                str(config),
                "--cache-dir",
                str(tmp_path / "cache"),
                "get",
                "deploy",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.stdout.split() == ["deployment.apps/dits-server", "deployment.apps/dits-worker"], out.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
