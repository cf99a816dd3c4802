"""The question comes after the preview it asks about, whatever stdout and stderr are
(`| tee log`, `| cat`: the walk goes through a pipe, the question straight to the
terminal), and a mistyped production name is asked again before the step is declined."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli

pytestmark = pytest.mark.services  # starts its own Kubernetes API server

NS = "dits"
LAST_PREVIEW_LINE = "Equivalent: kubectl rollout undo deployment/dits-server -n dits"
RUNS = 20


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dits-server at revision 2, so `k8s undo` has something to preview; its kubeconfig."""
    with KubeAPIServer(ready_delay=0.05) as server:
        server.seed_dits()
        kubeconfig = server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
        done = run_cli("k8s", "set-env", "dits-server", "FEATURE_X=on", "--yes", env={"KUBECONFIG": str(kubeconfig)})
        assert done.returncode == 0, done.stdout + done.stderr
        server.wait_for_rollout(NS, "dits-server")
        assert server.settle()
        yield kubeconfig


def shell(command: str, env: dict[str, str]) -> pexpect.spawn:
    return pexpect.spawn(
        "bash", ["-c", f"set -o pipefail; {command}"], env=env, encoding="utf-8", timeout=60, dimensions=(50, 80)
    )


@pytest.mark.parametrize("pipe", ["| tee {log}", "| cat"], ids=["tee", "cat"])
def test_the_question_comes_after_its_preview_every_time(cluster: Path, tmp_path: Path, isolated_home, pipe) -> None:
    env = {**os.environ, "KUBECONFIG": str(cluster), "COLUMNS": "80"}
    command = shlex.join([sys.executable, "-m", "ditsops", "k8s", "undo", "dits-server"])
    tail = pipe.format(log=shlex.quote(str(tmp_path / "walk.log")))
    for run in range(RUNS):
        child = shell(f"{command} {tail}", env)
        child.expect(r"\[y/N\]")
        screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", child.before)  # colours off
        assert LAST_PREVIEW_LINE in screen, f"run {run + 1}: the question came first:\n{screen}"
        child.sendline("n")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 3  # declined: nothing changed


def test_a_mistyped_production_name_is_asked_again_three_times(cluster: Path, isolated_home) -> None:
    config = isolated_home.config / "ditsops" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[profiles.prod]\nkubeconfig = "{cluster}"\nproduction = true\n')
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"COLUMNS": "80"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "--profile", "prod", "k8s", "undo", "dits-server"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 80),
    )
    child.expect("Type .*dits-server.* to confirm")
    child.sendline("y")  # the habit
    child.expect("'y' is not 'dits-server'; 2 more tries")
    child.expect("to confirm")
    child.sendline("dits-servr")
    child.expect("1 more try")
    child.expect("to confirm")
    child.sendline("dits-server")
    child.expect(r"(?i)rolled back|successfully rolled out")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
