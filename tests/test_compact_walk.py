"""The compact walk's pieces at 80 columns: a step that is fine is one line on a terminal
(cut at its edge) and whole in a log; a failing table's repeated rows fold; a log step keeps
each distinct message, two lines at most; a preview with a table states its target once."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from ditsops.core.model import Step
from ditsops.core.results import LogGroup, Preview, Status, StepResult, Table
from ditsops.render.console import THEME
from ditsops.render.walkline import (
    fold_repeats,
    folded,
    render_brief_log_groups,
    render_compact_details,
    render_compact_preview,
    render_step_line,
)


def console(*, terminal: bool = True) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=80, force_terminal=terminal, color_system=None, theme=THEME), out


def step(title: str = "Database pool usage of the API servers") -> Step:
    return Step(id="db-pool", title=title, kind="promql", spec=None)


POOL = StepResult(Status.OK, "20.0% — within thresholds (warn 80.0%, fail 90.0%) · 1 series", value=20.0)


def test_a_step_that_is_fine_is_one_line_cut_at_the_terminals_edge():
    shown, out = console()
    render_step_line(shown, 8, 14, step(), POOL)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 80
    assert lines[0].startswith("✔ [8/14] Database pool usage of the API servers: 20.0% — within")
    assert lines[0].endswith("…")


def test_in_a_log_the_same_line_is_whole():
    logged, out = console(terminal=False)
    render_step_line(logged, 8, 14, step(), POOL)
    assert out.getvalue().strip() == f"✔ [8/14] Database pool usage of the API servers: {POOL.summary}"


def test_a_failing_step_says_failing_and_wraps_whole():
    shown, out = console()
    failing = StepResult(Status.FAILING, "94.0% — above fail threshold 90.0% · 1 series (the pool is exhausted)")
    render_step_line(shown, 1, 9, step("Connections in use"), failing)
    text = " ".join(out.getvalue().split())
    assert (
        "✖ [1/9] Connections in use: failing: 94.0% — above fail threshold 90.0% · 1 series (the pool is exhausted)"
        in text
    )


def test_sessions_alike_but_for_pid_and_age_fold_into_one_counted_row_with_the_oldest_age():
    rows = [(4100 + i, "idle in transaction", 900 - i, "SELECT id, note FROM repos") for i in range(19)]
    rows.append((4200, "active", 1, "SELECT 1"))
    folded = fold_repeats(Table(("pid", "state", "state_age", "query"), rows, total=40))
    assert folded.columns == ("count", "state", "state_age", "query")
    assert folded.rows == [
        ("19×", "idle in transaction", 900, "SELECT id, note FROM repos"),
        ("1×", "active", 1, "SELECT 1"),
    ]
    distinct = Table(("state", "count"), [("active", 3), ("idle", 5), ("idle in transaction", 19)])
    assert fold_repeats(distinct) is distinct  # nothing repeats: the table as it was (no `3× 70`)


def test_a_failing_steps_table_is_shown_folded_an_ok_steps_is_not():
    rows = [(4100 + i, "idle in transaction", "SELECT id, note") for i in range(19)]
    table = Table(("pid", "state", "query"), rows)
    shown, out = console()
    render_compact_details(shown, StepResult(Status.FAILING, "19 sessions", tables=[table]))
    assert "19×" in out.getvalue() and "4100" not in out.getvalue()
    quiet, out = console()
    render_compact_details(quiet, StepResult(Status.OK, "19 sessions", tables=[table]))
    assert out.getvalue() == ""


def group(count: int, message: str) -> LogGroup:
    now = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    return LogGroup(message=message, count=count, first_seen=now, last_seen=now, pods=("p-1",), example=message)


def test_log_messages_keep_their_cause_in_two_lines_at_most():
    cause = (
        "ERROR dits_server::api: GET /api/v1/repos/:id/commits -> 500 Internal Server Error: "
        "query failed: column commits.parent_ids does not exist"
    )
    groups = [group(84, cause), group(61, "ERROR short one"), group(3, "ERROR third"), group(1, "ERROR fourth")]
    shown, out = console()
    render_brief_log_groups(shown, groups)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("84×  ERROR dits_server::api: GET /api/v1/repos/:id/commits")
    assert "parent_ids" in lines[1] and all(len(line) <= 80 for line in lines)
    assert lines[2].startswith("61×  ERROR short one")
    assert lines[-1].strip() == "… 1 more message: --verbose"


def test_a_preview_with_a_table_names_its_target_once_then_the_table():
    preview = Preview(
        target="dits-server",
        summary="roll back deployment dits-server in dits (sandbox): image (dits-server): a:1.5.0 -> a:1.4.2",
        headline="roll back deployment dits-server in dits (sandbox)",
        table=Table(("change", "before", "after"), [("image (dits-server)", "a:1.5.0", "a:1.4.2")]),
        command="kubectl rollout undo deployment/dits-server -n dits",
    )
    shown, out = console()
    render_compact_preview(shown, preview)
    text = out.getvalue()
    assert text.startswith("This will roll back deployment dits-server in dits (sandbox):\n")
    assert text.count("a:1.5.0") == 1 and "Equivalent: kubectl rollout undo deployment/dits-server -n dits" in text


def test_events_show_their_warnings_and_count_the_normal_ones():
    rows = [(12, "Normal", "Scheduled", "pod/web-1", "Successfully assigned")] * 30
    rows += [(3, "Warning", "BackOff", f"pod/web-{i}", "Back-off restarting failed container") for i in range(4)]
    events = Table(("age", "type", "reason", "object", "message"), rows)
    shown, out = console()
    render_compact_details(shown, StepResult(Status.INFO, "34 events, 4 warnings", tables=[events]))
    text = out.getvalue()
    assert "Scheduled" not in text and "Back-off restarting failed container" in text
    assert "30 Normal events not shown: --verbose" in text


def test_an_applied_terminate_lists_its_alike_rows_once_counted():
    rows = [(4100 + i, "dits-server", "idle in transaction", "terminated") for i in range(26)]
    rows.append((4200, "dits-server", "idle in transaction", "already gone"))
    result = StepResult(
        Status.APPLIED,
        "terminated 26 of 27 previewed backends",
        tables=[Table(("pid", "application", "state", "result"), rows)],
    )
    (table,) = folded(result).tables
    assert table.rows == [
        ("26×", "dits-server", "idle in transaction", "terminated"),
        ("1×", "dits-server", "idle in transaction", "already gone"),
    ]
    assert len(result.tables[0].rows) == 27  # the result itself (the record's) keeps every pid
