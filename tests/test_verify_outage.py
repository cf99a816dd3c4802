"""Prometheus stopped while a verify waits after a fix: a real Prometheus scraping a test
exporter, the in-memory Kubernetes API taking the fix (a scale), the CLI in a child at 80
columns, piped. A short outage is waited through and the run ends resolved; an outage
for the whole window ends `not verified: Prometheus unreachable since …`, exit 4, naming
the change that was applied and its undo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox import promstack
from tests.helpers import require_binary, retry_if_port_taken, wait_until
from tests.promfixtures import Exporter, wait_for_query

INSTALL = "apt-get install --no-install-recommends prometheus prometheus-alertmanager"

RUNBOOK = """\
name: outage
title: Prometheus goes away during the verify
steps:
  - id: errors
    title: Share of requests failing
    promql: max(test_errors)
    unit: percent
    threshold: {{warn: 1, fail: 5}}
  - id: grow
    title: Scale dits-server out to 4
    when: errors failing
    kube: scale
    deployment: dits-server
    namespace: dits
    replicas: 4
  - id: recovered
    title: Errors back under 1%
    verify: errors
    within: {within}
    every: 1s
"""


@pytest.fixture
def stack(tmp_path: Path):
    require_binary("prometheus", INSTALL)
    value = {"errors": 20.0}
    exporter = Exporter(lambda: f"test_errors {value['errors']}\n")
    started = retry_if_port_taken(lambda: promstack.start_stack(tmp_path / "prom", [exporter.target]))
    wait_for_query(started.prometheus.url, "test_errors", lambda r: bool(r) and r[0]["value"][1] == "20")
    current = {"prometheus": started.prometheus}

    def stop() -> None:
        promstack.stop(current["prometheus"].pid, current["prometheus"].cmdline_marker)

    def restart() -> None:
        current["prometheus"] = promstack.start_prometheus(
            tmp_path / "prom" / "prometheus",
            [exporter.target],
            started.alertmanager.port,
            started.rules_file,
            port=started.prometheus.port,
        )

    try:
        yield started.prometheus.url, value, stop, restart
    finally:
        stop()
        promstack.stop(started.alertmanager.pid, started.alertmanager.cmdline_marker)
        exporter.close()


def start_walk(tmp_path: Path, prometheus: str, kubeconfig: Path, within: str) -> subprocess.Popen[str]:
    path = tmp_path / "outage.yaml"
    path.write_text(textwrap.dedent(RUNBOOK.format(within=within)))
    env = {**os.environ, "DITSOPS_PROMETHEUS_URL": prometheus, "KUBECONFIG": str(kubeconfig), "COLUMNS": "80"}
    return subprocess.Popen(
        [sys.executable, "-m", "ditsops", "runbook", str(path), "--yes", "--non-interactive"],
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def recorded(isolated_home, event: str, **fields: Any) -> bool:
    for path in (isolated_home.state / "ditsops" / "runs").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry["event"] == event and all(entry.get(k) == v for k, v in fields.items()):
                return True
    return False


def test_a_short_outage_during_the_verify_is_waited_through(stack, seeded, kubeconfig, tmp_path, isolated_home):
    url, value, stop, restart = stack
    child = start_walk(tmp_path, url, kubeconfig, "2m")
    try:
        wait_until(lambda: recorded(isolated_home, "applied", step="grow"), 60, "the scale applied")
        stop()
        wait_until(lambda: recorded(isolated_home, "recheck", step="errors", status="error"), 60, "a failed re-check")
        value["errors"] = 0.0  # the fix works; Prometheus comes back and sees it
        restart()
        out, err = child.communicate(timeout=150)
    finally:
        child.kill()
    assert child.returncode == 0, out[-2000:] + err
    flat = " ".join(out.split())
    assert "errors could not be read since" in flat and "resolved: verified by recovered" in flat
    assert seeded.get("deployments", "dits", "dits-server")["spec"]["replicas"] == 4


def test_an_outage_for_the_whole_window_is_not_verified_and_names_the_change(
    stack, seeded, kubeconfig, tmp_path, isolated_home
):
    url, _, stop, _ = stack
    child = start_walk(tmp_path, url, kubeconfig, "6s")
    try:
        wait_until(lambda: recorded(isolated_home, "applied", step="grow"), 60, "the scale applied")
        stop()
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 4, out[-2000:] + err
    flat = " ".join(out.split())
    verdict = flat[flat.rindex("not verified: ") :]
    assert verdict.startswith("not verified: Prometheus unreachable since ")
    assert "; applied: grow of dits-server (undo: " in verdict and "k8s scale dits-server" in verdict
    assert "; check errors by hand (share of requests failing)" in verdict


def test_a_fix_behind_a_condition_prometheus_could_not_answer_is_put_to_the_engineer(seeded, kubeconfig, tmp_path):
    """Prometheus down from the start: the scale's condition is unknown. On a terminal the
    preview is shown with that said and the question defaults to No; without one, --yes
    does not apply it (exit 5). Either way the deployment keeps its 3 replicas."""
    import socket

    import pexpect

    path = tmp_path / "outage.yaml"
    path.write_text(textwrap.dedent(RUNBOOK.format(within="10s")))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as dead:
        dead.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        env = {
            **os.environ,
            "DITSOPS_PROMETHEUS_URL": f"http://127.0.0.1:{dead.getsockname()[1]}",
            "KUBECONFIG": str(kubeconfig),
            "COLUMNS": "80",
        }
        child = pexpect.spawn(
            sys.executable, ["-m", "ditsops", "runbook", str(path)], env=env, encoding="utf-8", timeout=60
        )
        try:
            child.expect("errors failing is unknown: errors could not be read")
            child.expect("default No")
            child.expect(r"\[y/N\]")
            child.sendline("")  # Enter: the default
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
        screen = " ".join((child.before or "").split())
        assert "declined" in screen
        piped = subprocess.run(
            [sys.executable, "-m", "ditsops", "runbook", str(path), "--yes", "--non-interactive"],
            env=env,
            text=True,
            capture_output=True,
            timeout=60,
        )
    assert piped.returncode == 5, piped.stdout[-2000:] + piped.stderr
    assert "--yes does not cover a condition that could not be checked" in " ".join(piped.stdout.split())
    assert seeded.get("deployments", "dits", "dits-server")["spec"]["replicas"] == 3
