"""`--help` in the command line's words: no Python types (`<bool>`, `<list[str]>`,
`<int range> [x>=1]`), flags without a metavar, values named by what they are
(`--set KEY=VALUE`, `--limit N`), ranges as `1..50`, arguments as `DEPLOYMENT`."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from ditsops.cli.helpwords import describe_range
from ditsops.cli.main import app
from tests.cli import run_cli
from tests.test_cli_help import COMMANDS, _label

runner = CliRunner(env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
PYTHON_WORDS = re.compile(r"<(bool|str|int|float|path|list\[|int range|float range|text)|\bx[<>]=|list\[(str|int)\]")


def row(text: str, option: str) -> str:
    """The help panel's row of `option` (or the usage line)."""
    return next(
        line
        for line in text.splitlines()
        if re.search(rf"^(│ |\s*)(-\w\s+)?{re.escape(option)}(\s|,|$)", line) and "Example:" not in line
    )


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=_label)
def test_no_python_type_in_any_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert not PYTHON_WORDS.search(result.output), result.output
    assert not re.search(r"\{[a-z_]+\}", result.output.split("\n\n")[0] + row(result.output, "Usage:")), result.output


def test_flags_have_no_metavar_and_values_a_meaningful_one() -> None:
    done = run_cli("db", "terminate", "--help", env={"COLUMNS": "80"})  # through a pipe, as read by `| less`
    text = done.stdout
    assert re.search(r"--yes\s+-y\s+Confirm", row(text, "--yes")), text
    assert re.search(r"--blocking\s+Only sessions", row(text, "--blocking")), text
    assert re.search(r"--dry-run\s+Run diagnostics", row(text, "--dry-run")), text
    assert re.search(r"--limit\s+N \[1\.\.\]\s", row(text, "--limit")), text
    assert re.search(r"--pid\s+PID\s", row(text, "--pid")), text
    assert re.search(r"--older-than\s+DURATION\s", row(text, "--older-than")), text
    assert re.search(r"-o\s+table\|json\s", row(text, "--output")), text

    text = run_cli("runbook", "run", "--help", env={"COLUMNS": "80"}).stdout
    assert re.search(r"--set\s+KEY=VALUE\s", row(text, "--set")), text
    text = run_cli("k8s", "history", "--help", env={"COLUMNS": "80"}).stdout
    assert "k8s history [OPTIONS] DEPLOYMENT" in text


def test_ranges_read_as_people_write_them() -> None:
    assert describe_range(1, 50) == "1..50"
    assert describe_range(1, None) == "1.."
    assert describe_range(None, 50) == "..50"
    assert describe_range(None, None) is None
