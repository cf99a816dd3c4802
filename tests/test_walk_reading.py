"""A walk that reads like a good incident channel, in-process (no service): values in
their unit, log lines grouped by message, named diagnostics by name, empty parameters
left out, each note once; and where the questions of an interactive run go."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ditsops.base.units import format_value
from ditsops.cli import prompts
from ditsops.cli.common import AppState, Terminal
from ditsops.core import steps as step_kinds
from ditsops.core.loader import load_runbook
from ditsops.core.loggroups import group_lines, mask
from ditsops.core.model import Runbook, Step, Threshold
from ditsops.core.results import LogGroup, Status, StepResult
from ditsops.core.steps.sql import _with_units
from ditsops.core.thresholds import summarize
from ditsops.render.console import THEME
from ditsops.render.runbook import render_header, render_step_result

RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"


def console(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, theme=THEME, color_system=None, highlight=False), out


def unwrapped(text: str) -> str:
    """Printed text with its line breaks and indentation joined back into single spaces."""
    return re.sub(r"\s+", " ", text)


# -- values and units ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (94.0, "percent", "94.0%"),
        (252, "seconds ago", "4m12s ago"),
        (259500.0, "seconds ago", "3d00h ago"),
        (0.27, "hours until full", "16 min until full"),
        (0.0, "hours until full", "0 min until full"),
        (30.5, "hours", "1d06h"),
        (126_773_862.4, "bytes-per-second", "120.9 MiB/s"),
        (1_055_531_162_664.0, "bytes", "983.0 GiB"),
        (1234.5, "per-second", "1234/s"),
        (16.24, "per-second", "16.2/s"),
        (3.3214, "ratio", "3.32×"),
        (23.7, "count", "24"),
        (259500.0, None, "259500"),  # never 2.595e+05
        (1234567.891, None, "1234568"),
        (float("nan"), "percent", "NaN"),
    ],
)
def test_every_unit_has_a_human_form(value: float, unit: str | None, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_a_zero_hours_left_is_not_value_0_and_thresholds_leave_the_words_out() -> None:
    threshold = Threshold(warn=48, fail=6, direction="below")
    assert summarize(0.27, "hours until full", threshold, Status.FAILING) == (
        "16 min until full — below fail threshold 6h"
    )
    assert summarize(30.0, "seconds ago", Threshold(warn=43200, fail=86400), Status.OK) == (
        "30s ago — within thresholds (warn 12h00m, fail 1d00h)"
    )


def test_every_unit_a_shipped_runbook_names_renders_in_its_own_form() -> None:
    units = {step.unit for path in RUNBOOKS.glob("*.yaml") for step in load_runbook(path).steps if step.unit}
    assert units  # the runbooks do name units
    for unit in units:
        for value in (0.0, 0.27, 94.0, 259500.0, 126_773_862.4):
            shown = format_value(value, unit)
            assert "e+" not in shown and "e-" not in shown, (unit, shown)
            if unit.split()[0] not in ("count", "ratio"):
                assert not re.fullmatch(r"-?[\d.]+", shown), f"{unit}: {shown} carries no unit"


def test_sql_columns_named_as_percent_show_percent_and_keep_their_number() -> None:
    row = _with_units(("state", "connections", "percent_of_max", "max_connections"), ("active", 22, 44.0, 50))
    assert [str(v) for v in row] == ["active", "22", "44.0%", "50"]
    assert row[2].value == 44.0  # the number stays for whatever compares it


# -- log lines grouped by message --------------------------------------------------------------

LINES = [
    ("pod-a", "2026-12-01T13:55:52.069Z ERROR api: GET /c -> 500: index is 4 request_id=be41a0058301 version=1.5.0"),
    ("pod-b", "2026-12-01T13:55:53.069Z ERROR api: GET /c -> 500: index is 4 request_id=ce41a0058302 version=1.5.0"),
    (
        "pod-b",
        "2026-12-01T13:55:54.500Z ERROR db: timeout 300ms to 10.0.0.1:5432 tx 123e4567-e89b-12d3-a456-426614174000",
    ),
    (
        "pod-a",
        "2026-12-01T13:55:51.000Z ERROR db: timeout 250ms to 10.0.0.2:5432 tx 123e4567-e89b-12d3-a456-426614174001",
    ),
    ("pod-c", "2026-12-01T13:55:50.000Z ERROR api: GET /c -> 500: index is 4 request_id=de41a0058303 version=1.5.0"),
]


def test_lines_are_grouped_by_message_with_what_varies_masked_newest_group_first() -> None:
    groups = group_lines((pod, line, "") for pod, line in LINES)
    assert [g.message for g in groups] == [
        "ERROR db: timeout <n> to <ip> tx <uuid>",  # last seen 13:55:54
        "ERROR api: GET /c -> 500: index is 4 request_id=<hex> version=1.5.0",  # last seen 13:55:53
    ]
    db, api = groups
    assert (db.count, api.count) == (2, 3)
    assert api.pods == ("pod-a", "pod-b", "pod-c")
    assert api.first_seen == datetime(2026, 12, 1, 13, 55, 50, tzinfo=UTC)
    assert api.last_seen == datetime(2026, 12, 1, 13, 55, 53, 69000, tzinfo=UTC)
    assert api.example.endswith("request_id=ce41a0058302 version=1.5.0")  # the newest line itself


def test_the_kubelets_time_of_a_line_wins_over_the_lines_own() -> None:
    kubelet = "2026-12-01T14:00:00.123456789Z"
    (group,) = group_lines([("p", "2026-12-01T13:00:00Z ERROR boom", kubelet), ("p", "ERROR boom", "")])
    assert group.message == "ERROR boom" and group.count == 2
    assert group.first_seen == group.last_seen == datetime(2026, 12, 1, 14, 0, 0, 123456, tzinfo=UTC)


def test_identifiers_with_digits_in_them_are_not_masked() -> None:
    template, _, parts = mask("unknown field `compression_v2` in s3 bucket at 0x7ffe12 after 12ms")
    assert template == "unknown field `compression_v2` in s3 bucket at <hex> after <n>"
    assert [kind for kind, _ in parts] == ["hex", "n"]


def test_lines_without_a_timestamp_group_by_the_order_they_were_read() -> None:
    groups = group_lines([("p", "first kind 1", ""), ("p", "second kind", ""), ("p", "first kind 2", "")])
    assert [(g.message, g.count, g.first_seen) for g in groups] == [
        ("first kind <n>", 2, None),
        ("second kind", 1, None),
    ]


def test_a_log_group_prints_its_whole_message_at_80_columns() -> None:
    cause = (
        "ERROR dits_server::api: POST /api/v1/repos/:id/commits -> 500 Internal Server Error: panicked at "
        "'called `Option::unwrap()` on a `None` value', src/repo/commit.rs:212:41 request_id=<hex> version=1.5.0"
    )
    pods = ("dits-server-84559f59db-q7rr9", "dits-server-84559f59db-9b6nv", "dits-server-84559f59db-65tgt")
    first, last = datetime(2026, 12, 1, 13, 55, 10, tzinfo=UTC), datetime(2026, 12, 1, 13, 55, 33, tzinfo=UTC)
    group = LogGroup(cause, 22, first, last, pods, "")
    out_console, out = console(80)
    render_step_result(out_console, StepResult(Status.INFO, "22 lines from 3 pods", log_groups=[group]))
    printed = out.getvalue()
    assert "…" not in printed
    assert cause in unwrapped(printed)  # folded under its header, never cut
    assert "22×" in printed and "3 pods: " + ", ".join(pods) in printed  # pod names whole


# -- the walk's header, steps and questions --------------------------------------------------------


def test_empty_parameters_are_not_listed_in_the_header() -> None:
    out_console, out = console(120)
    render_header(
        out_console, Runbook("r", "R", ()), {"job": "dits-server", "namespace": "", "n": None}, [("profile", "x")]
    )
    printed = out.getvalue()
    assert "job=dits-server" in printed and "namespace=" not in printed and "n=" not in printed


def named_sql_step() -> Step:
    runbook = load_runbook(RUNBOOKS / "db-connections-exhausted.yaml")
    return next(s for s in runbook.steps if s.kind == "sql" and s.spec.named == "long_queries")


@pytest.mark.parametrize("show_queries", [False, True])
def test_a_named_diagnostic_is_shown_by_its_name_and_arguments(show_queries: bool) -> None:
    from datetime import timedelta

    step = named_sql_step()
    params: dict[str, Any] = {"older_than": timedelta(minutes=5)}
    out_console, out = console(80)
    ui = prompts.ConsoleInteraction(out_console, show_queries=show_queries)
    ui.run_started(Runbook("r", "R", (step,)), params, [])
    ui.step_started(step, 3, 14, step_kinds.kind_of(step.kind).describe(step, params))
    printed = out.getvalue()
    assert "long_queries (older_than=5m)" in printed or show_queries
    assert ("FROM pg_stat_activity" in printed) is show_queries  # 25 lines of SQL only when asked


def test_a_note_is_printed_once_and_its_question_goes_where_questions_go(monkeypatch) -> None:
    note = Step(id="look", title="Look", kind="note", spec=step_kinds.note.NoteSpec("Check the pool time-outs."))
    walk_console, walk = console(80)
    ask_console, asked = console(80)
    questions: list[str] = []

    def answer(where: Console, prompt: str) -> str:
        where.print(prompt)
        questions.append(prompt)
        return "y"

    monkeypatch.setattr(prompts, "ask", answer)
    ui = prompts.ConsoleInteraction(walk_console, ask=ask_console)
    ui.step_started(note, 1, 1, "Check the pool time-outs.")
    assert ui.manual(note, "Check the pool time-outs.") is True
    assert walk.getvalue().count("Check the pool time-outs.") == 1
    assert "Done?" not in walk.getvalue() and "Done?" in asked.getvalue()


# -- interactivity follows stdin -------------------------------------------------------------------


@pytest.mark.parametrize("colour", [{}, {"FORCE_COLOR": "1"}, {"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_a_run_is_interactive_exactly_when_stdin_is_a_terminal(colour: dict[str, str]) -> None:
    piped_out = AppState(terminal=Terminal(stdin_isatty=True, environ=colour, stderr_isatty=True))
    no_stdin = AppState(terminal=Terminal(stdin_isatty=False, environ=colour, stdout_isatty=True, stderr_isatty=True))
    assert piped_out.interactive() and piped_out.interactive(json_output=True)
    assert not no_stdin.interactive()
    assert not piped_out.interactive(non_interactive=True)


def test_questions_leave_stdout_only_when_stdout_is_not_the_terminal() -> None:
    on_terminal = Terminal(stdin_isatty=True, environ={}, stdout_isatty=True, stderr_isatty=True).consoles()
    teed = Terminal(stdin_isatty=True, environ={"FORCE_COLOR": "1"}, stderr_isatty=True).consoles()
    nobody = Terminal(stdin_isatty=False, environ={}, stderr_isatty=True).consoles()
    assert on_terminal.ask is None  # with the walk, as always
    assert teed.ask is teed.err  # `| tee log`: on stderr, out of the log, although FORCE_COLOR is set
    assert nobody.ask is None


def test_a_skip_says_what_it_needed_and_what_was_found() -> None:
    from ditsops.core.conditions import explain_unmet, parse_condition

    failing = StepResult(Status.FAILING, value=94.0)
    young = StepResult(Status.INFO, value=303.0)
    assert explain_unmet(parse_condition("connections ok"), failing, "percent") == (
        "runs when connections is ok; it is failing (94.0%)"
    )
    assert explain_unmet(parse_condition("recent-rollouts above 3600"), young, "seconds ago") == (
        "runs when recent-rollouts is above 1h00m; it is 5m03s"
    )
    assert explain_unmet(parse_condition("health not-ok"), StepResult(Status.OK), None) == (
        "runs when health is not-ok; it is ok"
    )


def test_a_line_that_holds_a_mask_itself_is_a_group_of_its_own() -> None:
    # Anyone can put "<n>" in a request path the server logs; it must not crash the walk.
    groups = group_lines([("p", "GET /api/5 404", ""), ("p", "GET /api/<n> 404", ""), ("p", "GET /api/7 404", "")])
    assert sorted(g.count for g in groups) == [1, 2]
    assert any(g.message == "GET /api/<n> 404" and g.count == 1 for g in groups)


HOSTILE = "Evil\x1b[2J\x1b]0;owned\x07\r[bold]x"


@pytest.mark.parametrize("width", [80, 200])
def test_escape_sequences_from_outside_are_shown_not_obeyed(width: int) -> None:
    # An alert label (a parameter), a runbook title, a backend's table cell and summary:
    # none may clear the screen, retitle the terminal or overwrite the line.
    from ditsops.core.results import Table

    out_console, out = console(width)
    render_header(out_console, Runbook("r", f"Title {HOSTILE}", ()), {"job": HOSTILE}, [("profile", "x")])
    result = StepResult(Status.INFO, f"summary {HOSTILE}")
    result.tables.append(Table(("alertname", "summary"), [(HOSTILE, HOSTILE)]))
    render_step_result(out_console, result)
    printed = out.getvalue()
    assert not any(c in printed for c in "\x1b\x07\r"), repr(printed)
    assert printed.count("\\x1b[2J") >= 4 and "[bold]x" in printed


def test_a_query_is_printed_whole_line_by_line_when_piped() -> None:
    from ditsops.render.runbook import render_step_started

    text = (
        "SELECT coalesce(state, 'unknown')"
        + " " * 60
        + "AS state,\n       count(*) AS connections\nFROM pg_stat_activity"
    )
    out_console, out = console(80)  # a StringIO: not a terminal
    render_step_started(out_console, Step(id="s", title="S", kind="sql", spec=None), 1, 1, text)
    assert all(line in out.getvalue().splitlines() for line in text.splitlines())
