"""A root option given after the subcommand means what it means before it (kubectl takes
its global flags anywhere): above all the `--confirm-target NAME` a production refusal
asks the engineer to add, appended where people append things."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli

pytestmark = pytest.mark.services  # each test starts its own Kubernetes API server

NS = "dits"


@pytest.fixture
def lab(tmp_path: Path, isolated_home) -> Iterator[tuple[KubeAPIServer, Path]]:
    """The in-memory API; a config with a `lab` profile and a production `prod` profile on
    it. The kubeconfig's current context is another one: a lost --context acts elsewhere."""
    server = KubeAPIServer(ready_delay=0.05).start()
    server.seed_dits()
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", context="lab")
    config = tmp_path / "elsewhere" / "ditsops.toml"
    config.parent.mkdir()
    config.write_text(
        f'[profiles.lab]\nkubeconfig = "{kubeconfig}"\nkube_context = "lab"\nnamespace = "{NS}"\n'
        f'[profiles.prod]\nkubeconfig = "{kubeconfig}"\nkube_context = "lab"\nnamespace = "{NS}"\nproduction = true\n'
    )
    try:
        yield server, config
    finally:
        server.stop()


def fresh_shell() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DITSOPS_") and k != "KUBECONFIG"}


def revision(server: KubeAPIServer) -> int:
    annotations = server.get("deployments", NS, "dits-server")["metadata"]["annotations"]
    return int(annotations["deployment.kubernetes.io/revision"])


def test_the_production_refusals_confirm_target_works_where_it_is_appended(lab) -> None:
    server, config = lab
    done = run_cli("k8s", "set-env", "dits-server", "X=1", "--yes", "--config", str(config), "--profile", "lab")
    assert done.returncode == 0, done.stdout + done.stderr  # revision 2; globals after the subcommand
    server.wait_for_rollout(NS, "dits-server")
    before = revision(server)

    line = ["k8s", "undo", "dits-server", "--yes", "--config", str(config), "--profile", "prod"]
    refused = run_cli(*line, env=fresh_shell())
    assert refused.returncode != 0
    assert "--confirm-target dits-server" in refused.stdout + refused.stderr
    assert "No such option" not in refused.stderr

    done = run_cli(*line, "--confirm-target", "dits-server", env=fresh_shell())
    assert done.returncode == 0, done.stdout + done.stderr
    assert revision(server) == before + 1  # rolled back: a new revision


@pytest.mark.parametrize(
    "tail",
    [
        ["--config", "{config}", "--profile", "lab"],
        ["--config={config}", "-p", "lab", "--context", "lab", "-n", NS],
        ["--config", "{config}", "--profile", "lab", "-o", "json", "--debug"],
    ],
    ids=["long", "short-and-equals", "mixed-with-own-options"],
)
def test_global_options_after_the_subcommand(lab, tail: list[str]) -> None:
    _, config = lab
    args = [word.replace("{config}", str(config)) for word in tail]
    done = run_cli("k8s", "history", "dits-server", *args, env=fresh_shell())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "registry.dits.dev/dits-server" in done.stdout


def test_a_global_option_after_the_subcommand_is_the_one_in_effect(lab) -> None:
    _, config = lab
    done = run_cli("config", "show", "-o", "json", "--config", str(config), "--profile", "lab", env=fresh_shell())
    assert done.returncode == 0, done.stdout + done.stderr
    shown = json.loads(done.stdout)
    assert shown["config_file"] == str(config)
    assert shown["settings"]["namespace"] == NS
    # words after `--` are arguments: never taken for options
    done = run_cli("runbook", "show", "--", "--profile", env=fresh_shell())
    assert done.returncode == 2 and "--profile" in done.stderr, done.stderr


def test_the_last_namespace_given_wins_wherever_it_is(lab) -> None:
    _, config = lab
    base = ["--config", str(config), "--profile", "lab"]
    done = run_cli(*base, "k8s", "-n", "nowhere", "history", "dits-server", "-n", NS, env=fresh_shell())
    assert done.returncode == 0, done.stdout + done.stderr  # -n dits, given last, is the one in effect
    done = run_cli(*base, "k8s", "-n", NS, "history", "dits-server", "-n", "nowhere", env=fresh_shell())
    assert done.returncode != 0 and "nowhere" in done.stdout + done.stderr
    missing = run_cli("k8s", "history", "dits-server", "-n", env=fresh_shell())
    assert missing.returncode == 2 and "-n" in missing.stderr  # click's own word on a missing value
