"""Every command a walk prints for a person to paste — a note's `` `ditsops ...` ``, the
preview's `Equivalent:` kubectl line, the `undo:` line — runs as printed in a fresh shell
(no DITSOPS_*, no KUBECONFIG, no ~/.kube/config) and reaches the cluster the walk used,
because it carries the profile, config, context, namespace and kubeconfig in effect."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli
from tests.helpers import require_binary

pytestmark = pytest.mark.services  # starts its own Kubernetes API server

NS = "dits"
RUNBOOK = """
name: paste-check
title: Commands to paste
summary: A walk that prints a note command, an Equivalent kubectl line and an undo line.
steps:
  - id: look
    title: Look at the history
    note: >-
      Run `ditsops k8s history dits-server` to see the revisions, and
      `ditsops k8s status dits-server` for the pods.
  - id: undo
    title: Roll back dits-server
    kube: rollout-undo
    deployment: dits-server
    timeout: 1m
"""


@pytest.fixture
def lab(tmp_path: Path, isolated_home) -> Iterator[tuple[KubeAPIServer, Path, Path]]:
    """The API at revision 2; a `lab` profile naming its kubeconfig and context, in a config
    outside the default place; the kubeconfig's current context points elsewhere."""
    server = KubeAPIServer(ready_delay=0.05).start()
    try:
        server.seed_dits()
        kubeconfig = server.write_kubeconfig(tmp_path / "kube" / "config", context="lab")
        text = kubeconfig.read_text()
        kubeconfig.write_text(text.replace("current-context: lab", "current-context: nowhere"))
        config = tmp_path / "elsewhere" / "ditsops.toml"
        config.parent.mkdir()
        config.write_text(f'[profiles.lab]\nkubeconfig = "{kubeconfig}"\nkube_context = "lab"\nnamespace = "{NS}"\n')
        base = ["--config", str(config), "--profile", "lab"]
        done = run_cli(*base, "k8s", "set-env", "dits-server", "FEATURE=on", "--yes", env=fresh_shell(tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr
        server.wait_for_rollout(NS, "dits-server")
        assert server.settle()
        runbook = tmp_path / "paste-check.yaml"
        runbook.write_text(RUNBOOK)
        yield server, config, runbook
    finally:
        server.stop()


def fresh_shell(home: Path) -> dict[str, str]:
    """The engineer's next shell: none of this run's settings, a HOME without ~/.kube."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DITSOPS_") and k != "KUBECONFIG"}
    return {**env, "HOME": str(home / "fresh-home")}


def revision(server: KubeAPIServer) -> int:
    annotations = server.get("deployments", NS, "dits-server")["metadata"]["annotations"]
    return int(annotations["deployment.kubernetes.io/revision"])


def test_every_printed_command_runs_as_printed_in_a_fresh_shell(lab, tmp_path: Path) -> None:
    server, config, runbook = lab
    env = fresh_shell(tmp_path)
    walk = run_cli(
        "--config", str(config), "--profile", "lab", "runbook", str(runbook), "--yes", env={**env, "COLUMNS": "80"}
    )
    text = walk.stdout
    assert walk.returncode in (0, 3), text + walk.stderr

    noted = re.findall(r"^  \$ (ditsops .+)$", text, re.M)
    equivalent = re.findall(r"^Equivalent: (kubectl .+)$", text, re.M)
    undo = re.findall(r"^\s*undo: (ditsops .+)$", text, re.M)
    assert len(noted) == 2 and equivalent and undo, text
    for line in noted:
        assert "--profile lab" in line and f"--config {config}" in line, line
    assert re.search(r"Run\s+`ditsops\s+k8s\s+history\s+dits-server`\s+to\s+see", text)  # the note as written
    for line in equivalent:
        assert "--kubeconfig" in line and "--context lab" in line, line

    for line in noted:  # the reads a note suggests
        done = run_cli(*shlex.split(line)[1:], env=env)
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
        assert "dits-server" in done.stdout

    before = revision(server)
    [command] = undo
    done = run_cli(*shlex.split(command)[1:], "--yes", env=env)  # the walk's undo, as printed
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    assert revision(server) == before + 1

    kubectl = require_binary("kubectl", "apt-get install kubectl")
    line = equivalent[0]
    done = subprocess.run(
        [str(kubectl), *shlex.split(line)[1:]], capture_output=True, text=True, env=env, timeout=60
    )  # the Equivalent: line, as printed
    assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
    assert "rolled back" in done.stdout
