"""Shell completion: the checked-in scripts are the CLI's own, and completing really works.

The protocol is typer's (typer/_completion_classes.py): the shell function re-runs
`ditsops` with _DITSOPS_COMPLETE=complete_SHELL and the command line in COMP_WORDS and
COMP_CWORD (bash) or _TYPER_COMPLETE_ARGS (zsh, fish), and reads one candidate a line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ditsops.cli.main import app
from tests.helpers import require_binary

REPO = Path(__file__).resolve().parent.parent
SHELLS = ("bash", "zsh", "fish")
RUNBOOK_SUBCOMMANDS = {"run", "list", "show", "lint", "report", "runs"}
RUNBOOK = "db-connections-exhausted"


def _console_script() -> Path:
    """The installed `ditsops` script: completion keys off the program name `ditsops`."""
    script = Path(sys.executable).parent / "ditsops"
    assert script.exists(), f"{script} missing: the project is not installed in this venv (uv sync)"
    return script


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DITSOPS_", "_DITSOPS_", "_TYPER_", "COMP_"))
    }
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"), **extra}


def _complete(tmp_path: Path, shell: str, **variables: str) -> list[str]:
    done = subprocess.run(
        [str(_console_script())],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_environment(tmp_path, _DITSOPS_COMPLETE=f"complete_{shell}", **variables),
        timeout=60,
    )
    assert done.returncode == 0, f"completion for {shell} exited {done.returncode}: {done.stderr}"
    return done.stdout.splitlines()


@pytest.mark.parametrize("shell", SHELLS)
def test_checked_in_completion_script_is_what_the_cli_prints(shell: str) -> None:
    result = CliRunner().invoke(app, ["completion", shell])
    assert result.exit_code == 0, result.output
    checked_in = REPO / "completions" / f"ditsops.{shell}"
    expected = result.stdout.rstrip("\n") + "\n"  # scripts/gen-completions ends each file with one newline
    assert checked_in.exists(), f"{checked_in.relative_to(REPO)} is missing: run scripts/gen-completions"
    assert checked_in.read_text() == expected, (
        f"{checked_in.relative_to(REPO)} differs from `ditsops completion {shell}`: run scripts/gen-completions"
    )


def test_bash_completes_subcommands(tmp_path: Path) -> None:
    candidates = _complete(tmp_path, "bash", COMP_WORDS="ditsops runbook ", COMP_CWORD="2")
    assert RUNBOOK_SUBCOMMANDS <= set(candidates), candidates


def test_bash_completes_top_level_groups_but_not_hidden_commands(tmp_path: Path) -> None:
    candidates = _complete(tmp_path, "bash", COMP_WORDS="ditsops ", COMP_CWORD="1")
    assert {"runbook", "db"} <= set(candidates), candidates
    assert "completion" not in candidates


def test_bash_completes_subcommand_prefix(tmp_path: Path) -> None:
    candidates = _complete(tmp_path, "bash", COMP_WORDS="ditsops runbook li", COMP_CWORD="2")
    assert candidates == ["list", "lint"]


@pytest.mark.parametrize(("words", "cword"), [("ditsops runbook show ", "3"), ("ditsops runbook show db-c", "3")])
def test_bash_completes_runbook_names(tmp_path: Path, words: str, cword: str) -> None:
    assert RUNBOOK in _complete(tmp_path, "bash", COMP_WORDS=words, COMP_CWORD=cword)


def test_zsh_completes_subcommands(tmp_path: Path) -> None:
    output = "\n".join(_complete(tmp_path, "zsh", _TYPER_COMPLETE_ARGS="ditsops runbook "))
    assert output.startswith("_arguments"), output
    for name in RUNBOOK_SUBCOMMANDS:
        assert f'"{name}":' in output, output


def test_fish_completes_runbook_names(tmp_path: Path) -> None:
    candidates = _complete(
        tmp_path, "fish", _TYPER_COMPLETE_FISH_ACTION="get-args", _TYPER_COMPLETE_ARGS="ditsops runbook show "
    )
    assert RUNBOOK in [line.split("\t")[0] for line in candidates]


def test_checked_in_bash_script_completes_in_bash(tmp_path: Path) -> None:
    """Source completions/ditsops.bash in a real bash and press TAB the way bash does."""
    bash = str(require_binary("bash", "apt-get install bash"))  # skips locally, fails under CI
    program = f"""
        source {REPO / "completions" / "ditsops.bash"}
        complete -p ditsops >/dev/null || exit 90
        COMP_WORDS=(ditsops runbook show "")
        COMP_CWORD=3
        _ditsops_completion ditsops runbook show
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    path = f"{_console_script().parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_environment(tmp_path, PATH=path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert RUNBOOK in done.stdout.splitlines(), (done.stdout, done.stderr)
