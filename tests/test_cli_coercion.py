"""Option values converted without pydantic (cli/coercion.py) convert, and fail, exactly as
typer's own pydantic-backed conversion does: same values, same messages, same exit codes.
In-process, no service."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Literal

import pytest
import typer
import typer.core
from typer.testing import CliRunner

import ditsops.cli.main  # noqa: F401 - installs the plain conversion

runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def show(
        name: Annotated[str, typer.Argument()],
        fmt: Annotated[Literal["table", "json"], typer.Option("--output", "-o")] = "table",
        colour: Annotated[Colour | None, typer.Option("--colour", case_sensitive=False)] = None,
        profile: Annotated[str | None, typer.Option("--profile", envvar="TEST_PROFILE")] = None,
        tags: Annotated[list[str] | None, typer.Option("--tag")] = None,
        config: Annotated[Path | None, typer.Option("--config")] = None,
        must: Annotated[Path | None, typer.Option("--must", exists=True, dir_okay=False)] = None,
        flag: Annotated[bool, typer.Option("--flag", envvar="TEST_FLAG")] = False,
        count: Annotated[int, typer.Option("--count", min=1)] = 1,
    ) -> None:
        shown = (name, fmt, colour, profile, tags, config, must, flag, count)
        print(repr(shown))

    return app


CASES = [
    ["x"],
    ["x", "-o", "json"],
    ["x", "-o", "JSON"],
    ["x", "-o", "xml"],
    ["x", "--colour", "BLUE"],
    ["x", "--colour", "green"],
    ["x", "--profile", "staging", "--tag", "a", "--tag", "b"],
    ["x", "--config", "/nowhere/config.toml"],
    ["x", "--must", "/nowhere/file"],
    ["x", "--must", "/"],
    ["x", "--count", "0"],
    ["x", "--count", "two"],
    ["x", "--flag"],
]


def _run(args: list[str], env: dict[str, str], *, plain: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    ours = typer.core.build_runtime_param
    assert getattr(ours, "plain_values", False), "ditsops.cli.main did not install the plain conversion"
    with monkeypatch.context() as patch:
        if not plain:
            patch.setattr(typer.core, "build_runtime_param", ours.typers_own)
        result = runner.invoke(_app(), args, env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_plain_conversion_matches_typers_own(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _run(args, {}, plain=True, monkeypatch=monkeypatch)
    typers = _run(args, {}, plain=False, monkeypatch=monkeypatch)
    assert plain == typers


@pytest.mark.parametrize("value", ["yes", "0", " On ", "", "maybe"])
def test_flags_and_text_from_the_environment_match_typers_own(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"TEST_FLAG": value, "TEST_PROFILE": value}
    assert _run(["x"], env, plain=True, monkeypatch=monkeypatch) == _run(
        ["x"], env, plain=False, monkeypatch=monkeypatch
    )
