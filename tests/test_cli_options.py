"""The command line's options contract: one declaration of each safety option, `--output
table|json` on every reading command (a Choice, before or after the command name with the
same meaning), and JSON for `runbook show`, `runbook runs` and `sandbox status`.

Commands run as a user meets them: through a pipe (run_cli captures stdout) at 80 columns.
No service is needed; `sandbox status -o json` against a running sandbox is checked in
test_sandbox_e2e.py, which has one up anyway.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from rich.console import Console

from ditsops.cli.launch import DryRunOption, NonInteractiveOption, YesOption
from ditsops.cli.main import app
from ditsops.core.record import RunRecord
from ditsops.core.runs import NO_END, run_summaries
from ditsops.render.runs import render_runs
from tests.cli import run_cli

NARROW = {"COLUMNS": "80"}

# Commands that read and show something: each takes --output table|json.
READING = {
    ("alerts",),
    ("health",),
    ("config", "show"),
    ("db", "activity"),
    ("db", "blocking"),
    ("db", "idle-in-transaction"),
    ("db", "long-queries"),
    ("k8s", "events"),
    ("k8s", "history"),
    ("k8s", "logs"),
    ("k8s", "status"),
    ("prom", "query"),
    ("prom", "range"),
    ("runbook", "list"),
    ("runbook", "runs"),
    ("runbook", "show"),
    ("runbook", "verify"),
    ("sandbox", "status"),
    ("silence", "list"),
}


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, click command) of every command below the root, groups loaded as click would."""
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)
        for name in sorted(command.list_commands(ctx)):
            yield from _walk(command.get_command(ctx, name), (*path, name))
    else:
        yield path, command


COMMANDS = dict(_walk(typer.main.get_command(app)))


def _option(command: Any, flag: str) -> Any:
    return next((p for p in command.params if flag in getattr(p, "opts", ())), None)


def _shown_type(command: Any, option: Any) -> str:
    """The value's type as --help shows it, e.g. <table|json>."""
    return str(option.display_type(typer.Context(command)))


def _declared_help(annotated: Any) -> str:
    return str(annotated.__metadata__[0].help)


# --- declarations ----------------------------------------------------------------------


def test_every_reading_command_takes_output_as_a_choice_of_table_and_json() -> None:
    assert READING <= set(COMMANDS), f"reading commands missing from the tree: {READING - set(COMMANDS)}"
    for path in sorted(READING):
        option = _option(COMMANDS[path], "--output")
        assert option is not None, f"ditsops {' '.join(path)} has no --output"
        assert "-o" in option.opts
        assert _shown_type(COMMANDS[path], option) == "<table|json>", path


def test_every_output_option_anywhere_is_the_same_choice() -> None:
    root = typer.main.get_command(app)
    with_output = [(path, _option(command, "--output")) for path, command in COMMANDS.items()]
    with_output = [(path, option) for path, option in with_output if option is not None]
    assert len(with_output) >= len(READING)
    helps = {option.help for _, option in with_output} | {_option(root, "--output").help}
    assert len(helps) == 1, helps
    for path, option in with_output:
        assert _shown_type(COMMANDS[path], option) == "<table|json>", path
    assert _shown_type(root, _option(root, "--output")) == "<table|json>"


@pytest.mark.parametrize(
    ("flag", "annotated"),
    [("--yes", YesOption), ("--dry-run", DryRunOption), ("--non-interactive", NonInteractiveOption)],
)
def test_each_safety_option_has_one_declaration_and_one_help_text(flag: str, annotated: Any) -> None:
    taking = {path: _option(command, flag) for path, command in COMMANDS.items() if _option(command, flag)}
    # the runbook run, both backend signals, five deployment actions, two silence actions
    assert {("runbook", "run"), ("db", "terminate"), ("db", "cancel"), ("k8s", "undo"), ("silence", "add")} <= set(
        taking
    )
    assert len(taking) >= 10, sorted(taking)
    assert {option.help for option in taking.values()} == {_declared_help(annotated)}
    assert all(option.opts == taking["runbook", "run"].opts for option in taking.values())


def test_help_at_80_columns_through_a_pipe_shows_the_choices() -> None:
    done = run_cli("runbook", "runs", "--help", env=NARROW)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "--output" in line)
    assert "table|json" in line and "<str>" not in line, done.stdout


def test_an_unknown_output_format_is_a_usage_error_before_or_after_the_command() -> None:
    for args in (("-o", "yaml", "runbook", "list"), ("runbook", "list", "-o", "yaml")):
        done = run_cli(*args, env=NARROW)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "yaml" in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == ""


# --- the same meaning before and after the command name --------------------------------


def _json_both_ways(*command: str) -> Any:
    """`ditsops -o json COMMAND` and `ditsops COMMAND -o json` print the same document."""
    before = run_cli("-o", "json", *command, env=NARROW)
    after = run_cli(*command, "-o", "json", env=NARROW)
    for done in (before, after):
        assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stderr}"
    first, second = json.loads(before.stdout), json.loads(after.stdout)
    assert first == second
    return first


def test_the_command_line_value_wins_over_the_global_one(isolated_home: Any) -> None:
    done = run_cli("-o", "json", "runbook", "show", "high-error-rate", "-o", "table", env=NARROW)
    assert done.returncode == 0, done.stderr
    assert "Steps" in done.stdout and not done.stdout.lstrip().startswith("{")


def test_runbook_show_json(isolated_home: Any) -> None:
    shown = _json_both_ways("runbook", "show", "high-error-rate")
    assert shown["name"] == "high-error-rate"
    assert shown["alert"] == "HighErrorRate"
    assert Path(shown["path"]).name == "high-error-rate.yaml"
    steps = {step["id"]: step for step in shown["steps"]}
    assert [step["number"] for step in shown["steps"]] == list(range(1, len(steps) + 1))
    # what the table marks DESTRUCTIVE, JSON says too: the rollback is, the error rate query is not
    assert steps["rollback"]["destructive"] is True and steps["rollback"]["kind"] == "kube:rollout-undo"
    assert steps["error-rate"]["destructive"] is False and steps["error-rate"]["kind"] == "promql"
    assert steps["error-rate"]["threshold"]["fail"] is not None
    params = {param["name"]: param for param in shown["params"]}
    assert params["deployment"]["default"] == "dits-server"
    assert all(isinstance(e["after"], str) and e["say"] for e in shown["escalation"])


def test_config_show_json_both_ways(isolated_home: Any) -> None:
    shown = _json_both_ways("config", "show")
    assert {"config_file", "settings", "sources"} <= set(shown)


def test_sandbox_status_json_when_no_sandbox_is_up(isolated_home: Any) -> None:
    status = _json_both_ways("sandbox", "status")
    assert status["up"] is False and status["components"] == []
    assert status["kubeconfig"] is None
    assert set(status["urls"]) == {"postgres", "kubernetes", "dits", "prometheus", "alertmanager"}
    assert status["urls"]["dits"] == []


# --- runbook runs ----------------------------------------------------------------------


def _record(directory: Path, runbook: str, *, ts: str, by: str, profile: str, end: tuple[int, str] | None) -> str:
    """A run record as the engine writes it (run-start … run-end), with a chosen start time."""
    record = RunRecord.create(runbook, frozenset({"s3cret"}), directory)
    record.write(
        "run-start",
        runbook=runbook,
        title=runbook,
        target={"profile": profile, "database": "postgresql://app:s3cret@db:5432/app"},
        by=by,
        options={"interactive": False, "yes": False, "dry_run": False},
    )
    record.write("step", step="one", status="failing", summary="94.0%")
    if end is not None:
        record.write("run-end", exit_code=end[0], reason=end[1])
    # the start time as recorded: rewrite it (the chain is not what `runs` reads)
    text = record.path.read_text()
    first, rest = text.split("\n", 1)
    start = json.loads(first)
    start["ts"] = ts
    record.path.write_text(json.dumps(start) + "\n" + rest)
    return record.run_id


@pytest.fixture
def three_runs(isolated_home: Any) -> list[str]:
    runs = isolated_home.state / "ditsops" / "runs"
    # created out of order: the list is by start time, newest last
    middle = _record(
        runs,
        "high-error-rate",
        ts="2026-11-28T03:10:00.000+00:00",
        by="dana@bastion-01",
        profile="production-eu-west-1",
        end=(3, "not resolved: error-rate still failing (12.5%)"),
    )
    newest = _record(
        runs,
        "db-connections-exhausted",
        ts="2026-11-28T03:30:00.000+00:00",
        by="sam@laptop",
        profile="sandbox",
        end=None,
    )
    oldest = _record(
        runs,
        "unusual-traffic-spike",
        ts="2026-11-28T02:00:00.000+00:00",
        by="dana@bastion-01",
        profile="staging",
        end=(0, "resolved: verified by traffic-normal"),
    )
    return [oldest, middle, newest]


def test_runbook_runs_lists_one_line_per_run_newest_last_through_a_pipe_at_80_columns(three_runs: list[str]) -> None:
    done = run_cli("runbook", "runs", env=NARROW)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["when", "(UTC)", "who", "runbook", "verdict", "run"]
    rows = lines[1:]
    assert len(rows) == 3 and all(len(line) <= 80 for line in lines), done.stdout
    # the id shown is the shortest unique prefix (at least its timestamp): report takes it
    for row, run_id in zip(rows, three_runs, strict=True):
        assert run_id.startswith(row.split()[-1]) and len(row.split()[-1]) >= 16, row
    assert re.search(r"11-28 02:00\s+dana@bastion-01\s+unusual-traffic…\s+resolved\s", rows[0]), rows[0]
    assert re.search(r"11-28 03:10\s+dana@bastion-01\s+high-error-rate\s+not resolved\s", rows[1]), rows[1]
    assert re.search(r"11-28 03:30\s+sam@laptop\s+db-connections-…\s+no end\s", rows[2]), rows[2]
    assert "s3cret" not in done.stdout


def test_runbook_runs_json_both_ways(three_runs: list[str]) -> None:
    runs = _json_both_ways("runbook", "runs")
    assert [run["run"] for run in runs] == three_runs
    assert [run["started"] for run in runs] == [
        "2026-11-28T02:00:00+00:00",
        "2026-11-28T03:10:00+00:00",
        "2026-11-28T03:30:00+00:00",
    ]
    assert [run["user"] for run in runs] == ["dana@bastion-01", "dana@bastion-01", "sam@laptop"]
    assert [run["profile"] for run in runs] == ["staging", "production-eu-west-1", "sandbox"]
    assert [run["exit_code"] for run in runs] == [0, 3, None]
    assert runs[1]["verdict"] == "not resolved: error-rate still failing (12.5%)"
    assert runs[2]["verdict"] == NO_END
    assert all(Path(run["path"]).is_file() and Path(run["path"]).stem == run["run"] for run in runs)


def test_runbook_runs_with_none_recorded(isolated_home: Any) -> None:
    assert _json_both_ways("runbook", "runs") == []
    done = run_cli("runbook", "runs", env=NARROW)
    assert done.returncode == 0 and "No runs recorded yet" in done.stdout


def test_runs_on_an_80_column_terminal_keep_one_line_per_run_and_a_usable_id(three_runs: list[str]) -> None:
    out = io.StringIO()
    render_runs(Console(file=out, width=80, force_terminal=True, no_color=True, highlight=False), run_summaries())
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()
    assert len(lines) == 4 and all(len(line) <= 80 for line in lines), lines
    for line, run_id in zip(lines[1:], three_runs, strict=True):
        assert run_id.startswith(line.split()[-1])
    assert "sam@laptop" in lines[3] and "not resolved" in lines[2]


def test_a_forged_record_nested_beyond_reason_is_listed_without_its_fields(tmp_path: Path) -> None:
    # A record is JSON lines written by ditsops; one cut short or forged (here nested past
    # the parser's recursion limit) is listed as an unreadable run, not an internal error.
    (tmp_path / "20261201T000000Z-x-deadbeef.jsonl").write_text("[" * 100_000 + "\n")
    (summary,) = run_summaries(tmp_path)
    assert summary.run_id == "20261201T000000Z-x-deadbeef" and summary.exit_code is None
