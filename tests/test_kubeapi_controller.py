"""The deployment controller, ReplicaSet controller and pretend kubelet behind the API."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import wait_until
from tests.kubeapi_fixtures import deployment_body

REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
def stepped() -> Iterator[KubeAPIServer]:
    """No controller thread and instant pods: the test drives every pass itself."""
    with KubeAPIServer(ready_delay=0, controller_interval=None) as server:
        server.ensure_namespace("dits")
        yield server


def owned_rs(server: KubeAPIServer, name: str, namespace: str = "dits") -> list[dict[str, Any]]:
    uid = server.get("deployments", namespace, name)["metadata"]["uid"]
    return sorted(
        (
            rs
            for rs in server.list("replicasets", namespace)
            if any(ref["uid"] == uid for ref in rs["metadata"].get("ownerReferences", []))
        ),
        key=lambda rs: int(rs["metadata"]["annotations"][REVISION]),
    )


def set_image(server: KubeAPIServer, name: str, image: str, **annotations: str) -> None:
    deployment = server.get("deployments", "dits", name)
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image
    deployment["metadata"].setdefault("annotations", {}).update(annotations)
    server.store.update("deployments", deployment, "dits")


def pods_of(server: KubeAPIServer, rs: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p for p in server.list("pods", "dits") if p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    ]


def test_new_deployment_gets_a_replicaset_and_pods_like_upstream(stepped: KubeAPIServer) -> None:
    stepped.create("deployments", deployment_body("web", replicas=3), "dits")
    assert stepped.settle()
    d = stepped.get("deployments", "dits", "web")
    [rs] = owned_rs(stepped, "web")
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert rs["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": d["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert {k: v for k, v in rs["metadata"]["annotations"].items()} == {
        REVISION: "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
    }
    assert d["metadata"]["annotations"][REVISION] == "1"
    status = d["status"]
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        "Progressing": (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
        ),
    }
    pods = pods_of(stepped, rs)
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["name"].startswith(rs["metadata"]["name"] + "-")
        assert len(pod["metadata"]["name"]) == len(rs["metadata"]["name"]) + 6
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
        assert pod["spec"]["nodeName"] and pod["status"]["phase"] == "Running" and pod["status"]["startTime"]
        [cs] = pod["status"]["containerStatuses"]
        assert cs["ready"] and cs["restartCount"] == 0 and "running" in cs["state"]
    events = [
        (e["reason"], e["message"])
        for e in stepped.list("events", "dits")
        if e["involvedObject"]["kind"] == "Deployment"
    ]
    assert events == [("ScalingReplicaSet", f"Scaled up replica set {rs['metadata']['name']} from 0 to 3")]


def test_rolling_update_respects_surge_and_unavailability(stepped: KubeAPIServer) -> None:
    stepped.create("deployments", deployment_body("web", replicas=4), "dits")  # 25%: surge 1, unavailable 1
    stepped.settle()
    set_image(stepped, "web", "registry.dits.dev/app:2.0")
    for _ in range(100):
        wrote = stepped.reconcile_once()
        replica_sets = owned_rs(stepped, "web")
        assert sum(rs["spec"]["replicas"] for rs in replica_sets) <= 5
        available = sum(rs["status"].get("availableReplicas", 0) for rs in replica_sets)
        assert available >= 3
        if not wrote:
            break
    old, new = owned_rs(stepped, "web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert all(p["spec"]["containers"][0]["image"] == "registry.dits.dev/app:2.0" for p in stepped.list("pods", "dits"))
    messages = [e["message"] for e in stepped.list("events", "dits") if e["reason"] == "ScalingReplicaSet"]
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in messages
    assert f"Scaled down replica set {old['metadata']['name']} from 4 to 3" in messages


def test_new_template_then_rollback_reuses_the_old_replicaset(seeded: KubeAPIServer) -> None:
    set_image(
        seeded, "dits-server", "registry.dits.dev/dits-server:1.5.0", **{"kubernetes.io/change-cause": "deploy 1.5.0"}
    )
    seeded.wait_for_rollout("dits", "dits-server")
    first, second = owned_rs(seeded, "dits-server")
    assert second["metadata"]["annotations"][REVISION] == "2"
    assert second["metadata"]["annotations"]["kubernetes.io/change-cause"] == "deploy 1.5.0"
    assert first["spec"]["replicas"] == 0 and second["spec"]["replicas"] == 3
    assert seeded.get("deployments", "dits", "dits-server")["metadata"]["annotations"][REVISION] == "2"

    # Back to revision 1's template (what kubectl rollout undo patches in, annotations included).
    d = seeded.get("deployments", "dits", "dits-server")
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    d["spec"]["template"] = template
    d["metadata"]["annotations"]["kubernetes.io/change-cause"] = first["metadata"]["annotations"][
        "kubernetes.io/change-cause"
    ]
    seeded.store.update("deployments", d, "dits")
    seeded.wait_for_rollout("dits", "dits-server")
    replica_sets = owned_rs(seeded, "dits-server")
    assert [rs["metadata"]["name"] for rs in replica_sets] == [second["metadata"]["name"], first["metadata"]["name"]]
    reused = replica_sets[-1]
    assert reused["metadata"]["annotations"][REVISION] == "3"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert reused["metadata"]["annotations"]["kubernetes.io/change-cause"] == "initial deploy of dits-server 1.4.2"
    assert reused["spec"]["replicas"] == 3
    assert seeded.get("deployments", "dits", "dits-server")["metadata"]["annotations"][REVISION] == "3"


def test_paused_deployment_does_not_roll(stepped: KubeAPIServer) -> None:
    stepped.create("deployments", deployment_body("web"), "dits")
    stepped.settle()
    d = stepped.get("deployments", "dits", "web")
    d["spec"]["paused"] = True
    stepped.store.update("deployments", d, "dits")
    set_image(stepped, "web", "registry.dits.dev/app:2.0")
    stepped.settle()
    assert len(owned_rs(stepped, "web")) == 1
    status = stepped.get("deployments", "dits", "web")["status"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    assert status["observedGeneration"] == stepped.get("deployments", "dits", "web")["metadata"]["generation"]
    d = stepped.get("deployments", "dits", "web")
    d["spec"]["paused"] = False
    stepped.store.update("deployments", d, "dits")
    stepped.settle()
    old, new = owned_rs(stepped, "web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)


def test_revision_history_limit_prunes_old_replicasets(stepped: KubeAPIServer) -> None:
    stepped.create("deployments", deployment_body("web", replicas=1, revisionHistoryLimit=2), "dits")
    stepped.settle()
    for version in range(2, 6):
        set_image(stepped, "web", f"registry.dits.dev/app:{version}.0")
        stepped.settle()
    revisions = [rs["metadata"]["annotations"][REVISION] for rs in owned_rs(stepped, "web")]
    assert revisions == ["3", "4", "5"]  # the live one and two old ones


def test_scaling_recreate_and_cascading_delete(stepped: KubeAPIServer) -> None:
    stepped.create("deployments", deployment_body("web", replicas=2, strategy={"type": "Recreate"}), "dits")
    stepped.settle()
    d = stepped.get("deployments", "dits", "web")
    d["spec"]["replicas"] = 5
    stepped.store.update("deployments", d, "dits")
    stepped.settle()
    [rs] = owned_rs(stepped, "web")
    assert rs["spec"]["replicas"] == 5 and len(pods_of(stepped, rs)) == 5
    set_image(stepped, "web", "registry.dits.dev/app:2.0")
    stepped.reconcile_once()
    [old] = owned_rs(stepped, "web")  # Recreate: old pods go first, the new ReplicaSet comes after
    assert old["spec"]["replicas"] == 0 and stepped.list("pods", "dits") == []
    stepped.settle()
    assert owned_rs(stepped, "web")[1]["spec"]["replicas"] == 5
    victim = stepped.list("pods", "dits")[0]["metadata"]["name"]
    stepped.store.delete("pods", "dits", victim)  # the ReplicaSet replaces a deleted pod
    stepped.settle()
    assert len(stepped.list("pods", "dits")) == 5 and victim not in {
        p["metadata"]["name"] for p in stepped.list("pods", "dits")
    }
    stepped.store.delete("deployments", "dits", "web")
    assert stepped.list("replicasets", "dits") == [] and stepped.list("pods", "dits") == []


@pytest.mark.services  # starts its own Kubernetes API server
def test_crashing_image_loops_and_exceeds_the_progress_deadline() -> None:
    with KubeAPIServer(ready_delay=0.05, crash_interval=0.3) as server:
        server.seed_dits()
        d = server.get("deployments", "dits", "dits-server")
        d["spec"]["progressDeadlineSeconds"] = 1
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.dits.dev/dits-server:1.5.0-crash"
        server.store.update("deployments", d, "dits")

        def crashing() -> list[dict[str, Any]]:
            return [
                p
                for p in server.list("pods", "dits", "app=dits-server")
                if p["spec"]["containers"][0]["image"].endswith("crash")
                and (p["status"].get("containerStatuses") or [{}])[0].get("restartCount", 0) >= 2
            ]

        [pod] = wait_until(crashing, timeout=10)
        [cs] = pod["status"]["containerStatuses"]
        assert not cs["ready"] and cs["lastState"]["terminated"]["exitCode"] == 1
        assert pod["status"]["phase"] == "Running"
        with pytest.raises(TimeoutError, match="exceeded its progress deadline"):
            server.wait_for_rollout("dits", "dits-server", timeout=10)
        status = server.get("deployments", "dits", "dits-server")["status"]
        progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
        assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
        assert status["availableReplicas"] == 3 and status["unavailableReplicas"] == 1  # the old pods serve on
        previous = server.logs.read(("dits", pod["metadata"]["name"], "dits-server"), previous=True)
        assert 'level=fatal msg="unrecoverable error, exiting"' in previous
        reasons = {e["reason"] for e in server.list("events", "dits") if e["involvedObject"]["kind"] == "Pod"}
        assert {"Scheduled", "Pulled", "Created", "Started", "BackOff"} <= reasons


def test_image_rules_make_pods_never_ready(kubeapi: KubeAPIServer) -> None:
    kubeapi.set_image_behavior("app:stuck", "never-ready")
    kubeapi.ensure_namespace("dits")
    kubeapi.create("deployments", deployment_body("web", image="registry.dits.dev/app:stuck", replicas=2), "dits")
    pods = wait_until(
        lambda: (
            [p for p in kubeapi.list("pods", "dits") if p["status"].get("phase") == "Running"]
            if len(kubeapi.list("pods", "dits")) == 2
            else None
        )
    )
    for pod in pods:
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    available = next(
        c for c in kubeapi.get("deployments", "dits", "web")["status"]["conditions"] if c["type"] == "Available"
    )
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
