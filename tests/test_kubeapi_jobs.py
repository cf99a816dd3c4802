"""CronJobs and Jobs in the in-memory API: real kubectl (which sends protobuf for
`create job`), the official client, the job controller, and deleting a single pod."""

from __future__ import annotations

import re
from typing import Any

from ditsops.sandbox.kubeapi import KubeAPIServer
from ditsops.sandbox.kubeapi.protobuf import decode
from tests.helpers import wait_until
from tests.kubeapi_fixtures import Kubectl

NS = "dits"


def complete(server: KubeAPIServer, name: str) -> bool:
    conditions = server.get("jobs", NS, name).get("status", {}).get("conditions", [])
    return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)


def test_kubectl_gets_cronjobs_and_creates_a_job_from_one(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    out = kubectl("get", "cronjobs,jobs", "-n", NS).stdout
    assert re.search(r"cronjob\.batch/dits-gc\s+0 \* \* \* \*\s+<none>\s+False\s+0\s+<none>", out)
    assert "created" in kubectl("create", "job", "gc-now", "--from=cronjob/dits-gc", "-n", NS).stdout
    wait_until(lambda: complete(seeded, "gc-now"))
    listed = kubectl("get", "jobs", "-n", NS).stdout
    assert re.search(r"gc-now\s+Complete\s+1/1\s+\d+s\s+\d+s", listed)
    yaml_out = kubectl("get", "job", "gc-now", "-n", NS, "-o", "yaml").stdout
    assert "cronjob.kubernetes.io/instantiate: manual" in yaml_out and "kind: CronJob" in yaml_out
    pods = seeded.list("pods", NS, "job-name=gc-now")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    assert re.search(r"gc-now-\w{5}\s+0/1\s+Completed", kubectl("get", "pods", "-n", NS).stdout)


def test_job_status_goes_from_active_to_complete(kubeapi: KubeAPIServer) -> None:
    slow = KubeAPIServer(ready_delay=0.3, controller_interval=None)
    slow.ensure_namespace(NS)
    slow.create(
        "jobs",
        {
            "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i:1"}]}}},
        },
        NS,
    )
    slow.reconcile_once()
    status = slow.get("jobs", NS, "j")["status"]
    assert status["active"] == 1 and status["startTime"] and "succeeded" not in status
    assert slow.settle(10)
    job = slow.get("jobs", NS, "j")
    assert job["status"]["succeeded"] == 1 and "active" not in job["status"] and job["status"]["completionTime"]
    assert [c["type"] for c in job["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}}


def test_a_job_needs_a_restart_policy_that_ends(kubeapi: KubeAPIServer, api_client: Any) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    kubeapi.ensure_namespace(NS)
    body = {"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    try:
        client.BatchV1Api(api_client).create_namespaced_job(NS, body)
    except ApiException as error:
        assert error.status == 422 and 'supported values: \\"OnFailure\\", \\"Never\\"' in error.body
    else:
        raise AssertionError("a Job with restartPolicy Always was accepted")


def test_deleting_a_pod_gets_it_replaced(seeded: KubeAPIServer, kubectl: Kubectl) -> None:
    before = {p["metadata"]["name"] for p in seeded.list("pods", NS, "app=dits-server")}
    victim = sorted(before)[0]
    assert f'pod "{victim}" deleted' in kubectl("delete", "pod", victim, "-n", NS).stdout

    def replaced() -> bool:
        now = {p["metadata"]["name"] for p in seeded.list("pods", NS, "app=dits-server")}
        return victim not in now and len(now) == 3

    wait_until(replaced)


def test_protobuf_envelope_decodes_pointer_zeros_and_drops_go_zero_values() -> None:
    def encode(value: int) -> bytes:
        out = b""
        while value > 0x7F:
            out, value = out + bytes([value & 0x7F | 0x80]), value >> 7
        return out + bytes([value])

    def field(number: int, payload: bytes) -> bytes:
        return encode(number << 3 | 2) + encode(len(payload)) + payload

    def varint(number: int, value: int) -> bytes:
        return encode(number << 3) + encode(value)

    meta = field(1, b"j") + field(2, b"") + field(11, field(1, b"app") + field(2, b"gc"))
    container = field(1, b"c") + field(2, b"i:1") + varint(16, 0)  # stdin: false, a Go zero
    spec = varint(7, 0) + field(6, field(2, field(2, container) + field(3, b"Never")))  # backoffLimit: 0, a pointer
    raw = field(1, meta) + field(2, spec) + field(3, b"")
    body = b"k8s\x00" + field(1, field(1, b"batch/v1") + field(2, b"Job")) + field(2, raw)
    assert decode(body) == {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": "j", "labels": {"app": "gc"}},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"containers": [{"name": "c", "image": "i:1"}], "restartPolicy": "Never"}},
        },
        "status": {},
    }
