"""The in-memory Kubernetes API over HTTP: the official client and raw requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import client, watch

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import wait_until
from tests.kubeapi_fixtures import deployment_body

CONFLICT_MESSAGE = (
    'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


def _status_body(exc: client.ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def retry_on_conflict(attempt: Callable[[], Any]) -> Any:
    """What every client does with a read-modify-write: on 409, read again and retry."""
    for _ in range(50):
        try:
            return attempt()
        except client.ApiException as exc:
            if exc.status != 409:
                raise
    raise AssertionError("still conflicting after 50 attempts")


@pytest.fixture
def web(kubeapi: KubeAPIServer, apps: Any) -> dict[str, Any]:
    kubeapi.ensure_namespace("dits")
    apps.create_namespaced_deployment("dits", deployment_body("web"))
    kubeapi.wait_for_rollout("dits", "web", timeout=10)
    return kubeapi.get("deployments", "dits", "web")


def test_discovery_documents(kubeapi: KubeAPIServer) -> None:
    http = httpx.Client(base_url=kubeapi.url)
    assert http.get("/version").json()["minor"] == "32"
    assert http.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in http.get("/apis").json()["groups"]}
    assert {"apps", "batch"} <= groups
    resources = {r["name"]: r for r in http.get("/apis/apps/v1").json()["resources"]}
    assert resources["deployments"]["shortNames"] == ["deploy"]
    assert (resources["deployments/scale"]["group"], resources["deployments/scale"]["kind"]) == ("autoscaling", "Scale")
    core_names = {r["name"] for r in http.get("/api/v1").json()["resources"]}
    assert {"pods", "pods/log", "namespaces", "events"} <= core_names
    batch = {r["name"]: r for r in http.get("/apis/batch/v1").json()["resources"]}
    assert batch["cronjobs"]["shortNames"] == ["cj"] and {"jobs", "jobs/status"} <= set(batch)
    missing = http.get("/apis/networking.k8s.io/v1")
    assert missing.status_code == 404 and missing.json()["kind"] == "Status"


def test_crud_generation_and_status_subresource(kubeapi: KubeAPIServer, apps: Any, core: Any) -> None:
    core.create_namespace({"metadata": {"name": "dits"}})
    created = apps.create_namespaced_deployment("dits", deployment_body("web", replicas=2))
    assert created.metadata.generation == 1 and created.metadata.uid and created.metadata.resource_version
    assert created.spec.strategy.rolling_update.max_surge == "25%"  # apps/v1 defaults applied
    assert created.spec.revision_history_limit == 10 and created.spec.progress_deadline_seconds == 600

    def relabel() -> Any:  # read-modify-write; the controller's status writes may force a retry
        got = apps.read_namespaced_deployment("web", "dits")
        body = got.to_dict()
        body["metadata"]["labels"]["team"] = "core"  # metadata only: generation stays
        return got, apps.replace_namespaced_deployment("web", "dits", body)

    got, replaced = retry_on_conflict(relabel)
    assert replaced.metadata.generation == 1 and replaced.metadata.labels["team"] == "core"
    assert int(replaced.metadata.resource_version) > int(got.metadata.resource_version)

    patched = apps.patch_namespaced_deployment(
        "web", "dits", {"spec": {"replicas": 3}}, _content_type="application/merge-patch+json"
    )
    assert patched.spec.replicas == 3 and patched.metadata.generation == 2

    # A write to the main resource cannot change status; one to /status cannot change spec.
    http = httpx.Client(base_url=kubeapi.url)
    current = http.get("/apis/apps/v1/namespaces/dits/deployments/web").json()
    current["status"] = {"replicas": 99}
    current["spec"]["replicas"] = 7
    del current["metadata"]["resourceVersion"]  # an unconditional update
    status_write = http.put("/apis/apps/v1/namespaces/dits/deployments/web/status", json=current).json()
    assert status_write["spec"]["replicas"] == 3 and status_write["status"]["replicas"] == 99
    current["status"] = {"replicas": 42}
    main_write = http.put("/apis/apps/v1/namespaces/dits/deployments/web", json=current).json()
    assert main_write["spec"]["replicas"] == 7 and main_write["status"]["replicas"] != 42

    assert apps.delete_namespaced_deployment("web", "dits")["status"] == "Success"
    with pytest.raises(client.ApiException) as err:
        apps.read_namespaced_deployment("web", "dits")
    assert err.value.status == 404


def test_not_found_status_body(kubeapi: KubeAPIServer) -> None:
    kubeapi.ensure_namespace("dits")
    response = httpx.get(f"{kubeapi.url}/apis/apps/v1/namespaces/dits/deployments/nope")
    assert response.status_code == 404
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
    }
    pod = httpx.get(f"{kubeapi.url}/api/v1/namespaces/dits/pods/nope").json()
    assert pod["message"] == 'pods "nope" not found' and "group" not in pod["details"]
    missing_ns = httpx.post(f"{kubeapi.url}/apis/apps/v1/namespaces/nowhere/deployments", json=deployment_body("x"))
    assert missing_ns.status_code == 404 and missing_ns.json()["message"] == 'namespaces "nowhere" not found'


def test_stale_resource_version_is_a_conflict(web: dict[str, Any], apps: Any, kubeapi: KubeAPIServer) -> None:
    stale = apps.read_namespaced_deployment("web", "dits").to_dict()
    apps.patch_namespaced_deployment(
        "web", "dits", {"metadata": {"labels": {"bump": "1"}}}, _content_type="application/merge-patch+json"
    )
    stale["spec"]["replicas"] = 5
    with pytest.raises(client.ApiException) as err:
        apps.replace_namespaced_deployment("web", "dits", stale)
    assert err.value.status == 409
    status = _status_body(err.value)
    assert (status["reason"], status["code"], status["message"]) == ("Conflict", 409, CONFLICT_MESSAGE)
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert kubeapi.get("deployments", "dits", "web")["spec"]["replicas"] == 3
    # A merge patch carrying the stale resourceVersion is a precondition and conflicts too.
    stale_rv = stale["metadata"]["resource_version"]  # to_dict() keys are snake_case
    with pytest.raises(client.ApiException) as err:
        apps.patch_namespaced_deployment(
            "web", "dits", {"metadata": {"resourceVersion": stale_rv}}, _content_type="application/merge-patch+json"
        )
    assert err.value.status == 409
    with pytest.raises(client.ApiException) as err:
        apps.create_namespaced_deployment("dits", deployment_body("web"))
    assert err.value.status == 409 and _status_body(err.value)["reason"] == "AlreadyExists"


def test_dry_run_all_changes_nothing(web: dict[str, Any], kubeapi: KubeAPIServer, apps: Any) -> None:
    before = kubeapi.get("deployments", "dits", "web")
    preview = apps.create_namespaced_deployment("dits", deployment_body("other"), dry_run="All")
    assert preview.metadata.name == "other" and not preview.metadata.resource_version
    body = apps.read_namespaced_deployment("web", "dits").to_dict()
    body["spec"]["replicas"] = 9
    assert apps.replace_namespaced_deployment("web", "dits", body, dry_run="All").spec.replicas == 9
    patched = apps.patch_namespaced_deployment(
        "web",
        "dits",
        [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "x:2"}],
        dry_run="All",
        _content_type="application/json-patch+json",
    )
    assert patched.spec.template.spec.containers[0].image == "x:2" and patched.metadata.generation == 2
    apps.delete_namespaced_deployment("web", "dits", dry_run="All")
    after = kubeapi.get("deployments", "dits", "web")
    assert after["spec"] == before["spec"] and after["metadata"]["generation"] == before["metadata"]["generation"]
    assert kubeapi.store.try_get("deployments", "dits", "other") is None
    bad = httpx.post(f"{kubeapi.url}/apis/apps/v1/namespaces/dits/deployments?dryRun=Some", json=deployment_body("z"))
    assert bad.status_code == 400


def test_patch_types_over_http(web: dict[str, Any], apps: Any) -> None:
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "A", "value": "1"}]}]}}}}
    out = apps.patch_namespaced_deployment("web", "dits", smp, _content_type="application/strategic-merge-patch+json")
    container = out.spec.template.spec.containers[0]
    assert container.image == "registry.dits.dev/app:1.0" and [e.name for e in container.env] == ["A"]
    merge = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "only:1"}]}}}}
    out = apps.patch_namespaced_deployment("web", "dits", merge, _content_type="application/merge-patch+json")
    assert out.spec.template.spec.containers[0].env is None  # merge patch replaces lists
    response = httpx.patch(
        f"{apps.api_client.configuration.host}/apis/apps/v1/namespaces/dits/deployments/web",
        content=b"{}",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert response.status_code == 415


def test_label_and_field_selectors(kubeapi: KubeAPIServer, core: Any) -> None:
    kubeapi.ensure_namespace("dits")
    for name, labels in [("a", {"app": "x", "tier": "api"}), ("b", {"app": "x", "tier": "db"}), ("c", {"app": "y"})]:
        core.create_namespaced_pod(
            "dits",
            {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        )

    def names(**kwargs: Any) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod("dits", **kwargs).items]

    assert names(label_selector="app=x") == ["a", "b"]
    assert names(label_selector="app==x,tier!=db") == ["a"]
    assert names(label_selector="tier!=db") == ["a", "c"]
    assert names(label_selector="tier in (api,db)") == ["a", "b"]
    assert names(label_selector="tier notin (api)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace=dits,metadata.name!=b") == ["a", "c"]
    wait_until(lambda: len(names(field_selector="status.phase=Running")) == 3)
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_pod("dits", label_selector="app in x")
    assert err.value.status == 400
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_pod("dits", field_selector="spec.bogus=1")
    assert err.value.status == 400 and "field label not supported" in err.value.body


@pytest.mark.services  # starts its own Kubernetes API server
def test_pagination_5000_pods_consistent_pages() -> None:
    server = KubeAPIServer(controller_interval=None)  # nothing but this test writes
    with server:
        server.ensure_namespace("load")
        for i in range(5000):
            server.store.create(
                "pods",
                {
                    "metadata": {"name": f"pod-{i:05d}", "labels": {"batch": str(i % 2)}},
                    "spec": {"containers": [{"name": "c", "image": "i:1"}]},
                },
                "load",
            )
        http = httpx.Client(base_url=server.url, timeout=30)
        first = http.get("/api/v1/namespaces/load/pods", params={"limit": 500}).json()
        list_rv = first["metadata"]["resourceVersion"]
        assert len(first["items"]) == 500 and first["metadata"]["remainingItemCount"] == 4500
        # Writes between pages must not show up in later pages (a snapshot, as etcd serves it).
        server.store.delete("pods", "load", "pod-04999")
        server.store.create(
            "pods", {"metadata": {"name": "pod-09999"}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}, "load"
        )
        seen = [p["metadata"]["name"] for p in first["items"]]
        token, pages = first["metadata"]["continue"], 1
        while token:
            page = http.get("/api/v1/namespaces/load/pods", params={"limit": 500, "continue": token}).json()
            assert page["metadata"]["resourceVersion"] == list_rv
            assert all(int(p["metadata"]["resourceVersion"]) <= int(list_rv) for p in page["items"])
            seen += [p["metadata"]["name"] for p in page["items"]]
            token, pages = page["metadata"].get("continue"), pages + 1
        assert pages == 10
        assert seen == [f"pod-{i:05d}" for i in range(5000)]
        # The official client pages the same way, with a selector.
        api = client.CoreV1Api(client.ApiClient(client.Configuration(host=server.url)))
        batch, cont = [], None
        while True:
            result = api.list_namespaced_pod("load", label_selector="batch=1", limit=500, _continue=cont)
            batch += result.items
            cont = result.metadata.var_continue
            if not cont:
                break
        assert len(batch) == 2499  # a fresh list: pod-04999 (batch 1) is gone
        garbage = http.get("/api/v1/namespaces/load/pods", params={"limit": 1, "continue": "!!"})
        assert garbage.status_code == 400


def test_all_namespaces_lists_and_namespace_scoping(seeded: KubeAPIServer, apps: Any) -> None:
    seeded.ensure_namespace("other")
    apps.create_namespaced_deployment("other", deployment_body("dits-server", replicas=1))
    everywhere = apps.list_deployment_for_all_namespaces()
    assert sorted((d.metadata.namespace, d.metadata.name) for d in everywhere.items) == [
        ("dits", "dits-server"),
        ("dits", "dits-worker"),
        ("other", "dits-server"),
    ]
    assert [d.metadata.name for d in apps.list_namespaced_deployment("other").items] == ["dits-server"]
    raw = httpx.get(f"{seeded.url}/apis/apps/v1/deployments").json()
    assert raw["kind"] == "DeploymentList" and raw["metadata"]["resourceVersion"]
    assert "kind" not in raw["items"][0]  # list items carry no kind, as on the wire upstream


def test_scale_subresource(seeded: KubeAPIServer, apps: Any) -> None:
    scale = apps.read_namespaced_deployment_scale("dits-server", "dits")
    assert (scale.kind, scale.api_version, scale.spec.replicas) == ("Scale", "autoscaling/v1", 3)
    assert scale.status.selector == "app=dits-server" and scale.status.replicas == 3
    patched = apps.patch_namespaced_deployment_scale(
        "dits-server", "dits", {"spec": {"replicas": 4}}, _content_type="application/merge-patch+json"
    )
    assert patched.spec.replicas == 4
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "dits-server", "namespace": "dits", "resourceVersion": scale.metadata.resource_version},
        "spec": {"replicas": 5},
    }
    with pytest.raises(client.ApiException) as err:  # the resourceVersion is from before the patch
        apps.replace_namespaced_deployment_scale("dits-server", "dits", body)
    assert err.value.status == 409
    for _ in range(50):  # the controller's status writes move the resourceVersion too: retry, as clients do
        body["metadata"]["resourceVersion"] = apps.read_namespaced_deployment_scale(
            "dits-server", "dits"
        ).metadata.resource_version
        try:
            assert apps.replace_namespaced_deployment_scale("dits-server", "dits", body).spec.replicas == 5
            break
        except client.ApiException as exc:
            assert exc.status == 409
    deployment = wait_until(
        lambda: (
            (d := seeded.get("deployments", "dits", "dits-server")) and d["status"].get("availableReplicas") == 5 and d
        )
    )
    assert deployment["spec"]["replicas"] == 5


def test_pod_logs_and_sandbox_log_endpoint(seeded: KubeAPIServer, core: Any) -> None:
    pods = sorted(p.metadata.name for p in core.list_namespaced_pod("dits", label_selector="app=dits-server").items)
    log = core.read_namespaced_pod_log(pods[0], "dits")
    assert 'msg="starting dits-server" version=1.4.2' in log and "DATABASE_POOL_SIZE=20" in log
    answer = httpx.post(
        f"{seeded.url}/sandbox/v1/namespaces/dits/logs",
        params={"labelSelector": "app=dits-server"},
        json={"lines": ["ERROR one", "ERROR two"]},
    ).json()
    assert sorted(answer["pods"]) == pods
    for pod in pods:
        assert core.read_namespaced_pod_log(pod, "dits", tail_lines=2) == "ERROR one\nERROR two\n"
    assert seeded.append_log("dits", "app=dits-server", [f"rr {i}" for i in range(6)], spread=True) == pods
    for pod in pods:
        assert sum(line.startswith("rr ") for line in core.read_namespaced_pod_log(pod, "dits").splitlines()) == 2
    assert core.read_namespaced_pod_log(pods[0], "dits", since_seconds=3600, container="dits-server")
    stamped = core.read_namespaced_pod_log(pods[0], "dits", tail_lines=1, timestamps=True)
    assert stamped.split(" ", 1)[0].endswith("Z") and stamped.endswith(" rr 3\n")
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_pod_log(pods[0], "dits", previous=True)
    assert err.value.status == 400 and "previous terminated container" in err.value.body
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_pod_log(pods[0], "dits", container="nope")
    assert err.value.status == 400
    assert seeded.append_log("dits", "app=nothing", ["x"]) == []


def test_watch_streams_changes(seeded: KubeAPIServer, apps: Any) -> None:
    listed = apps.list_namespaced_deployment("dits", field_selector="metadata.name=dits-worker")
    rv = listed.metadata.resource_version
    apps.patch_namespaced_deployment_scale(
        "dits-worker", "dits", {"spec": {"replicas": 3}}, _content_type="application/merge-patch+json"
    )
    events = []
    for event in watch.Watch().stream(
        apps.list_namespaced_deployment,
        "dits",
        resource_version=rv,
        field_selector="metadata.name=dits-worker",
        timeout_seconds=5,
    ):
        events.append((event["type"], event["object"].metadata.name, event["object"].spec.replicas))
        if (event["object"].status.available_replicas or 0) == 3:
            break
    assert events[0] == ("MODIFIED", "dits-worker", 3)
    assert all(name == "dits-worker" for _, name, _ in events)
    # No resourceVersion: the current state first, as ADDED events.
    with httpx.stream(
        "GET", f"{seeded.url}/apis/apps/v1/namespaces/dits/deployments", params={"watch": "true", "timeoutSeconds": "1"}
    ) as response:
        first = json.loads(next(response.iter_lines()))
    assert first["type"] == "ADDED" and first["object"]["kind"] == "Deployment"


@pytest.mark.services  # starts its own Kubernetes API server
def test_watch_from_a_compacted_resource_version_is_expired() -> None:
    with KubeAPIServer(controller_interval=None, watch_history=10) as server:
        for i in range(20):
            server.ensure_namespace(f"ns-{i}")
        with httpx.stream(
            "GET",
            f"{server.url}/api/v1/namespaces",
            params={"watch": "1", "resourceVersion": "2", "timeoutSeconds": "1"},
        ) as response:
            events = [json.loads(line) for line in response.iter_lines() if line]
        assert [e["type"] for e in events] == ["ERROR"]
        assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")
        recent = int(server.store.resource_version) - 3
        with httpx.stream(
            "GET",
            f"{server.url}/api/v1/namespaces",
            params={"watch": "1", "resourceVersion": str(recent), "timeoutSeconds": "1"},
        ) as response:
            names = [json.loads(line)["object"]["metadata"]["name"] for line in response.iter_lines() if line]
        assert names == ["ns-17", "ns-18", "ns-19"]


def test_table_responses_for_kubectl_get(seeded: KubeAPIServer) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = httpx.get(f"{seeded.url}/apis/apps/v1/namespaces/dits/deployments", headers={"Accept": accept}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:4] == ["dits-server", "3/3", 3, 3]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


@pytest.mark.services  # starts its own Kubernetes API server
def test_bearer_token_required_when_configured(tmp_path: Any) -> None:
    with KubeAPIServer(token="s3cret", ready_delay=0) as server:
        assert httpx.get(f"{server.url}/api/v1/namespaces").status_code == 401
        assert httpx.get(f"{server.url}/version").status_code == 200
        ok = httpx.get(f"{server.url}/api/v1/namespaces", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        from kubernetes import config

        api = client.CoreV1Api(config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc"))))
        api.create_namespace({"metadata": {"name": "dits"}})
        assert [n.metadata.name for n in api.list_namespace().items] == ["dits"]
