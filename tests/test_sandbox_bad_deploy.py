"""The bad-deploy incident end to end: dits-server 1.5.0 rolled out in the sandbox's
Kubernetes API, the simulator failing requests because of it, and the high-error-rate
runbook finding the rollout in Prometheus' error ratio and the rollout history, rolling it
back confirmed at a real terminal and seeing the ratio recover (the --yes walk, by the
alert, is in test_incidents_servers.py).

The worker's shared sandbox; the tests run in file order and share its history.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pexpect
import pytest

from ditsops.core.catalog import find
from ditsops.sandbox.rules import SANDBOX_WINDOW
from tests.cli import run_cli
from tests.helpers import require_binary, wait_until
from tests.sandboxfixtures import WATCH, Sandbox, fault

GOOD = "registry.dits.dev/dits-server:1.4.2"
BAD = "registry.dits.dev/dits-server:1.5.0"
ERROR_RATIO = (
    f'100 * sum(rate(dits_http_requests_total{{job="dits-server", status=~"5.."}}[{SANDBOX_WINDOW}]))'
    f' / sum(rate(dits_http_requests_total{{job="dits-server"}}[{SANDBOX_WINDOW}]))'
)


@pytest.fixture(scope="module")
def kubectl(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory):
    binary = require_binary("kubectl", "apt-get install kubectl (or download v1.32 from dl.k8s.io)")
    cache = tmp_path_factory.mktemp("kube-cache")

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(binary), "--kubeconfig", sandbox.kubeconfig, "--cache-dir", str(cache), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(cache)},
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    return run


def deployed_image(kubectl) -> str:
    return kubectl("get", "deployment", "dits-server", "-o", "jsonpath={.spec.template.spec.containers[0].image}")


def error_ratio(sandbox: Sandbox) -> float:
    body = httpx.get(f"{sandbox.prometheus}/api/v1/query", params={"query": ERROR_RATIO}, timeout=5).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def simulator_image(sandbox: Sandbox) -> tuple[str, bool]:
    document = httpx.get(f"{sandbox.url('simulator')}/sandbox/faults", timeout=5).json()
    return document["image"], document["image_bad"]


def inject_bad_deploy(sandbox: Sandbox, kubectl) -> None:
    output = fault("bad-deploy")
    assert "Injected bad-deploy" in output and "Alert it should fire: HighErrorRate" in output, output
    # Returned only after the rollout finished and the simulator runs the bad image.
    assert deployed_image(kubectl) == BAD
    assert simulator_image(sandbox) == (BAD, True)
    assert "deploy 1.5.0" in kubectl("rollout", "history", "deployment/dits-server")


def finish_notes(child: pexpect.spawn) -> None:
    """Tick off manual steps until the run ends."""
    while child.expect([r"Done\?", pexpect.EOF]) == 0:
        child.sendline("y")


def test_interactive_rollback_confirmed_at_a_terminal(sandbox: Sandbox, kubectl):
    """At 80×50, the question stands on one screen with what justifies it: the error rate,
    the fresh rollout, and the rollback's preview (the compact walk)."""
    inject_bad_deploy(sandbox, kubectl)
    wait_until(lambda: error_ratio(sandbox) > 5, 60, "the error ratio over 5%", **WATCH)

    env = {**os.environ, "COLUMNS": "80", "LINES": "50"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "--profile", "sandbox", "runbook", "high-error-rate"],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 80),
    )
    try:
        child.expect(r"\[y/N\]")
        screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before + child.after).replace("\r", "")
        lines = screen.splitlines()
        assert len(lines) <= 40, f"{len(lines)} lines before the question:\n{screen}"
        assert re.search(r"Share of requests failing with 5xx: failing: [\d.]+% — above fail", screen), screen
        assert re.search(r"Recent deployments of dits-server: revision \d+ rolled out [\d.smh]+ ago", screen), screen
        assert "This will roll back deployment dits-server in dits (sandbox):" in screen
        assert re.search(
            r"before +registry\.dits\.dev/dits-server:1\.5\.0\nafter +registry\.dits\.dev/dits-server:1\.4\.2", screen
        )
        assert "Roll back dits-server to the previous revision?" in lines[-1]
        assert max(len(line) for line in lines if not line.startswith("Equivalent:")) <= 80
        assert deployed_image(kubectl) == BAD  # nothing changed before the answer
        child.sendline("y")
        child.expect("rolled back")
        child.expect("Error ratio back under 1%")
        child.expect("recovered")
        finish_notes(child)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before

    assert deployed_image(kubectl) == GOOD
    assert simulator_image(sandbox) == (GOOD, False)
    report = run_cli("runbook", "report")
    assert report.returncode == 0, report.stderr
    assert "decision: approved by" in report.stdout and "answered y" in report.stdout
    assert re.search(r"ditsops .*k8s undo dits-server --to-revision \d+", report.stdout), report.stdout
    assert "recovered" in report.stdout
    fault("bad-deploy", "--clear")
    assert_recovery_read_after_the_rollback(sandbox)


def last_record(sandbox: Sandbox) -> list[dict]:
    runs = sorted((sandbox.home / "state" / "ditsops" / "runs").glob("*high-error-rate*.jsonl"))
    return [json.loads(line) for line in runs[-1].read_text().splitlines()]


def at(entry: dict) -> float:
    return datetime.fromisoformat(entry["ts"]).timestamp()


def assert_recovery_read_after_the_rollback(sandbox: Sandbox) -> None:
    """The re-check that said recovered read the short window, and read it once that window
    held only requests served after the rollout ended (its 3 s and a scrape)."""
    entries = last_record(sandbox)
    rolled_back = next(e for e in entries if e.get("event") == "step" and e.get("step") == "rollback")
    rechecks = [e for e in entries if e.get("event") == "recheck" and e.get("step") == "error-rate"]
    assert rechecks and rechecks[-1]["status"] == "ok", rechecks
    assert all(e["params"] == {"window": "3s"} for e in rechecks), rechecks
    # the rollback's step line is written after the rollout ended: no re-check 4 s before it
    assert at(rechecks[0]) >= at(rolled_back) + 4 - 0.1, (rolled_back["ts"], rechecks[0]["ts"])


def test_kubectl_rollout_undo_and_fault_clear_end_the_bad_deploy(sandbox: Sandbox, kubectl):
    inject_bad_deploy(sandbox, kubectl)
    kubectl("rollout", "undo", "deployment/dits-server")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=60s")
    wait_until(lambda: simulator_image(sandbox) == (GOOD, False), 10, "the simulator back on 1.4.2", **WATCH)
    time.sleep(1.5)  # the log writer's last round for the bad image lands in this window
    logs = kubectl("logs", "-l", "app=dits-server", "--since=1s", "--tail=-1")
    assert "ERROR" not in logs, logs
    assert "ended" in run_cli("sandbox", "status").stdout

    # A second time, cleared by the fault itself: it rolls back like kubectl would.
    fault("bad-deploy", "--clear")
    # The shared sandbox may hold earlier 1.5.0 templates (other pod annotations, after a
    # restart): what must not happen is a new revision for the same template.
    bad_revisions = kubectl("rollout", "history", "deployment/dits-server").count("deploy 1.5.0")
    inject_bad_deploy(sandbox, kubectl)
    assert "Cleared fault bad-deploy" in fault("bad-deploy", "--clear")
    assert deployed_image(kubectl) == GOOD
    assert simulator_image(sandbox) == (GOOD, False)
    history = kubectl("rollout", "history", "deployment/dits-server")
    assert history.count("deploy 1.5.0") == bad_revisions, history  # one revision per template, as on a cluster


def test_a_rollback_that_fixes_nothing_is_not_recovered(sandbox: Sandbox, kubectl, tmp_path: Path):
    """The rollback goes back to another 1.5.0 revision (an env change was rolled out on top
    of the bad release): the errors go on, and the verify must say so, not "recovered"."""
    inject_bad_deploy(sandbox, kubectl)
    kubectl("set", "env", "deployment/dits-server", "DITS_LOG_FORMAT=json")
    kubectl("rollout", "status", "deployment/dits-server", "--timeout=60s")
    wait_until(lambda: error_ratio(sandbox) > 5, 60, "the error ratio over 5%", **WATCH)
    # The shipped runbook as it is, but a verify window a test can wait out.
    shipped = find("high-error-rate").source
    assert shipped is not None
    text = shipped.read_text()
    assert "    within: 5m\n    every: 2s\n" in text
    path = tmp_path / "high-error-rate.yaml"
    path.write_text(text.replace("    within: 5m\n    every: 2s\n", "    within: 12s\n    every: 2s\n"))
    try:
        done = run_cli("--profile", "sandbox", "runbook", "run", str(path), "--yes", timeout=180)
        image_after = deployed_image(kubectl)
    finally:
        fault("bad-deploy", "--clear")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "applied: rolled back" in done.stdout, done.stdout
    assert image_after == BAD  # the rollback changed the template, not the release
    assert "recovered (after" not in done.stdout
    assert re.search(r"not recovered after \d+(\.\d)?s: 1\d\.\d%", done.stdout), done.stdout
    assert re.search(r"not resolved: error-rate failing at 1\d\.\d%", done.stdout), done.stdout
    rechecks = [e for e in last_record(sandbox) if e.get("event") == "recheck"]
    assert rechecks and all(e["status"] == "failing" for e in rechecks), rechecks
