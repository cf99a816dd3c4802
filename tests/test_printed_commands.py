"""Commands ditsops prints for the engineer to paste — `undo:` lines, the runbook `alerts`
suggests, the report command — carry the config, profile, context and namespace the run
used, so pasted in a fresh shell (no DITSOPS_* or KUBECONFIG) they act on the same target."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli

NS = "dits"


@pytest.fixture
def lab(tmp_path: Path, isolated_home) -> tuple[KubeAPIServer, Path]:
    """The in-memory API, and a config file outside the default place with a `lab` profile
    pointing at it (a second context in the kubeconfig is the current one: a command that
    forgot the profile would act on the wrong cluster)."""
    server = KubeAPIServer(ready_delay=0.1).start()
    server.seed_dits()
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", context="lab")
    config = tmp_path / "elsewhere" / "ditsops.toml"
    config.parent.mkdir()
    config.write_text(f'[profiles.lab]\nkubeconfig = "{kubeconfig}"\nkube_context = "lab"\nnamespace = "{NS}"\n')
    try:
        yield server, config
    finally:
        server.stop()


def fresh_shell() -> dict[str, str]:
    """The engineer's next shell: none of this run's environment settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DITSOPS_") and k != "KUBECONFIG"}


def paste(command: str) -> None:
    argv = shlex.split(command)
    assert argv[0] == "ditsops"
    done = run_cli(*argv[1:], "--yes", env=fresh_shell())
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def replicas(server: KubeAPIServer) -> int:
    return server.get("deployments", NS, "dits-server")["spec"]["replicas"]


def test_scale_undo_pasted_in_a_fresh_shell_restores_the_replicas(lab):
    server, config = lab
    done = run_cli(
        "--config",
        str(config),
        "--profile",
        "lab",
        "k8s",
        "scale",
        "dits-server",
        "--replicas",
        "5",
        "--yes",
        "-o",
        "json",
        env=fresh_shell(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    undo = json.loads(done.stdout)["steps"][0]["result"]["undo"]
    assert undo == f"ditsops --config {config} --profile lab --namespace dits k8s scale dits-server --replicas 3"
    assert replicas(server) == 5
    paste(undo)
    assert replicas(server) == 3


def test_rollout_undo_pasted_in_a_fresh_shell_goes_back(lab):
    server, config = lab
    server.wait_for_rollout(NS, "dits-server")
    base = ["--config", str(config), "--profile", "lab"]
    done = run_cli(*base, "k8s", "set-env", "dits-server", "DATABASE_POOL_SIZE=80", "--yes", env=fresh_shell())
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli(*base, "k8s", "undo", "dits-server", "--yes", "-o", "json", env=fresh_shell())
    assert done.returncode == 0, done.stdout + done.stderr
    undo = json.loads(done.stdout)["steps"][0]["result"]["undo"]
    assert undo.startswith(f"ditsops --config {config} --profile lab --namespace dits k8s undo dits-server")

    def pool_size() -> str | None:
        container = server.get("deployments", NS, "dits-server")["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e.get("value") for e in container.get("env", [])}.get("DATABASE_POOL_SIZE")

    before = pool_size()
    paste(undo)
    assert pool_size() == "80" != before


def test_the_report_command_printed_at_the_end_names_the_profile(lab):
    _, config = lab
    done = run_cli(
        "--config",
        str(config),
        "--profile",
        "lab",
        "k8s",
        "scale",
        "dits-server",
        "--replicas",
        "4",
        "--yes",
        env={**fresh_shell(), "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("Timeline for the postmortem:"))
    command = line.removeprefix("Timeline for the postmortem:").strip()
    assert command.startswith(f"ditsops --config {config} --profile lab runbook report ")
    report = run_cli(*shlex.split(command)[1:], env=fresh_shell())
    assert report.returncode == 0 and "scale" in report.stdout
