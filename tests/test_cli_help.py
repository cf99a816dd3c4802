"""Every command explains itself, with an example, and is documented (sqlite-utils style).

The command tree is walked from the click command typer builds, so a command added later
is checked without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from ditsops import __version__
from ditsops.cli.main import LAZY_COMMANDS, app

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
# Wide enough that rich does not wrap an example line in the middle.
runner = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})


def _walk(command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(path, is_group) for the root and every visible command and group below it.

    Through list_commands/get_command, as click resolves them: the root's groups are
    imported only when asked for (LAZY_COMMANDS), so they are not in its `commands` yet."""
    is_group = hasattr(command, "list_commands")
    yield path, is_group
    if is_group:
        ctx = typer.Context(command)
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if not sub.hidden:
                yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
LEAF_COMMANDS = [path for path, is_group in COMMANDS if not is_group]


def _label(path: tuple[str, ...]) -> str:
    return " ".join(("ditsops", *path))


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=_label)
def test_help_exits_0_and_ends_with_an_example(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"{_label(path)} --help exited {result.exit_code}:\n{result.output}"
    # rich may draw the help inside panel borders; an example line starts after them.
    lines = [line.strip().strip("│").strip() for line in result.output.splitlines()]
    assert any(line.startswith("Example: ditsops") for line in lines), (
        f"{_label(path)} --help has no line starting with 'Example: ditsops':\n{result.output}"
    )


def test_version_prints_name_and_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"ditsops {__version__}\n"


def _documented(path: tuple[str, ...], readme: str) -> bool:
    """README has a line with `ditsops` and, after it, the command's words in order
    (global options may stand between: `ditsops --profile sandbox db activity`)."""
    words = r"\s+".join(re.escape(word) for word in path)
    pattern = re.compile(rf"\bditsops\b.*?(?<![\w-]){words}(?![\w-])")
    return any(pattern.search(line) for line in readme.splitlines())


def test_every_command_is_documented_in_readme() -> None:
    readme = README.read_text(encoding="utf-8") if README.exists() else ""
    missing = [_label(path) for path in LEAF_COMMANDS if not _documented(path, readme)]
    assert not missing, "commands missing from README.md:\n  " + "\n  ".join(missing)


def test_root_help_lists_every_command_with_its_own_help() -> None:
    """`ditsops --help` draws the lazy groups from LAZY_COMMANDS' one-liners without
    importing them: each must be the first paragraph of the command's own help, and every
    visible command must be listed."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = " ".join(line.strip().strip("│").strip() for line in result.output.splitlines())
    listed = re.sub(r"\s+", " ", listed)
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        if command.hidden:
            continue
        own = re.sub(r"\s+", " ", (command.help or "").split("\n\n")[0]).strip()
        if name in LAZY_COMMANDS:
            assert LAZY_COMMANDS[name][2] == own, f"LAZY_COMMANDS[{name!r}] differs from `ditsops {name} --help`"
        assert f"{name} {own}" in listed, f"ditsops --help does not list {name!r} with its help:\n{result.output}"
