"""The compact walk: what an on-call engineer needs to decide, on one screen.

A diagnostic that is fine is one line (its number, title, value and verdict); one that is
failing shows its details below that line, repeated rows folded; the evidence of a log
step (its distinct messages) is kept, a line or two each. `--verbose` draws every step
whole (render/runbook.py), as the walk always did.

    ✖ [1/14] Share of requests failing with 5xx: 14.5% — above fail threshold 5.0%
    ✔ [8/14] Database pool usage of the API servers: 20.0% — within thresholds (warn…
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from ditsops.core.model import Runbook, Step
from ditsops.core.params import display
from ditsops.core.results import LogGroup, Preview, Status, StepResult, Table
from ditsops.render.cells import MAX_CELL, cut, escape, escape_line, one_line, printable
from ditsops.render.console import STATUS_MARK, STATUS_STYLE
from ditsops.render.runbook import render_preview, split_undo
from ditsops.render.tables import render_table

QUIET = frozenset({Status.OK, Status.SKIPPED, Status.DONE, Status.NOTHING_TO_DO})  # one line is all they need
DETAILED = frozenset({Status.FAILING, Status.WARNING, Status.ERROR})  # their tables are the evidence
LOG_GROUPS_SHOWN = 3  # distinct log messages shown in a compact walk
LOG_LINES_PER_GROUP = 2  # a message's lines at most, in a compact walk
HEADER_KEPT = ("profile", "context", "namespace", "production", "file")  # the rest: --verbose


def render_compact_header(
    console: Console, runbook: Runbook, params: dict[str, Any], target: list[tuple[str, str]], mode: str
) -> None:
    """Which runbook, against what, and what else is firing, in four lines or so; the
    backends' URLs are in `--verbose` and in the record."""
    head = Text()
    head.append(one_line(runbook.title), style="title")
    head.append(f"  ({runbook.name})", style="muted")
    if runbook.alert:
        head.append(one_line(f" · alert {runbook.alert}" + (f", {runbook.severity}" if runbook.severity else "")))
    console.print(head)
    where = Text()
    for label, value in target:
        if label not in HEADER_KEPT:
            continue
        if where:
            where.append(" · ", style="muted")
        if label == "production":
            where.append("production" if value == "yes" else "not production", style="danger" if value == "yes" else "")
        else:
            where.append(f"{label} ", style="muted")
            where.append(one_line(value))
    if mode != "interactive":  # asked at each change: the usual; anything else is said
        where.append(" · ", style="muted")
        where.append(mode, style="warning")
    others = dict(target).get("also firing", "")
    if others.startswith("no other"):
        where.append(" · no other alert firing", style="muted")
    console.print(where)
    if others and not others.startswith("no other"):  # the other alerts of this incident: seen first
        console.print(Text.assemble(("also firing: ", "warning"), (printable(others), "warning")), soft_wrap=True)
    given = {k: display(v) for k, v in params.items() if v is not None and display(v) != ""}
    if given:
        console.print(
            Text.assemble(("parameters: ", "muted"), one_line(", ".join(f"{k}={v}" for k, v in given.items())))
        )


def render_compact_preview(console: Console, preview: Preview) -> None:
    """What the step will do: its headline and its table when it has both (the summary
    repeats the table in words), else as the verbose walk shows it."""
    if preview.empty or preview.table is None or not preview.table.rows or not preview.headline:
        render_preview(console, preview)
        return
    console.print(f"[danger]This will {escape(preview.headline)}:[/]")
    render_table(console, preview.table)
    if preview.command:
        console.print(f"[muted]Equivalent:[/] {escape_line(preview.command)}", soft_wrap=True)


def step_line(number: int, total: int, step: Step, result: StepResult) -> Text:
    """`✔ [8/14] Title: summary`: the step's verdict on one line (its undo aside)."""
    summary, _ = split_undo(result.summary)
    line = Text()
    line.append(f"{STATUS_MARK.get(result.status, '•')} ", style=STATUS_STYLE.get(result.status, ""))
    line.append(f"[{number}/{total}] ", style="muted")
    line.append(one_line(step.title), style="title")
    said = one_line(summary)
    line.append(f": {said}" if result.status in (Status.OK, Status.INFO) else f": {result.status}: {said}")
    return line


def render_step_line(console: Console, number: int, total: int, step: Step, result: StepResult) -> None:
    """A quiet step on one line: cut at the edge of a terminal, whole in a log."""
    line = step_line(number, total, step, result)
    if console.is_terminal and result.status in QUIET:
        console.print(line, no_wrap=True, overflow="ellipsis")
    else:
        console.print(line, soft_wrap=not console.is_terminal)
    _, command = split_undo(result.summary)
    if command:
        console.print(f"  undo: {escape_line(command)}", soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[warning]  ! {escape_line(warning)}[/]")


def render_compact_details(console: Console, result: StepResult) -> None:
    """Below a step's line: the evidence. A failing step's tables, repeated rows folded; a
    log step's distinct messages (the cause is in them), whatever its status."""
    if result.status in DETAILED:
        for table in result.tables:
            if len(table.rows) > 1 or len(table.columns) > 1:  # one value is already on the line
                render_table(console, fold_repeats(table))
    if result.log_groups:
        render_brief_log_groups(console, result.log_groups)


def fold_repeats(table: Table) -> Table:
    """Rows that differ only in a column of unique values (a pid, a pod name) folded into
    one, counted: `19×  idle in transaction  SELECT id, note …`. Unchanged when nothing repeats."""
    if len(table.rows) < 3:
        return table
    unique = [i for i in range(len(table.columns)) if len({repr(r[i]) for r in table.rows}) == len(table.rows)]
    kept = [i for i in range(len(table.columns)) if i not in unique]
    if not unique or not kept:
        return table
    counts: dict[tuple[str, ...], int] = {}
    first: dict[tuple[str, ...], tuple[Any, ...]] = {}
    for row in table.rows:
        key = tuple(repr(row[i]) for i in kept)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, row)
    if len(counts) == len(table.rows):
        return table
    rows = [(f"{counts[key]}×", *(row[i] for i in kept)) for key, row in first.items()]
    return Table(("rows", *(table.columns[i] for i in kept)), rows, title=table.title, total=table.total)


def render_brief_log_groups(console: Console, groups: Sequence[LogGroup]) -> None:
    """Each distinct message once, with how often: at most two lines of it (--verbose: the
    pods, the times and the message whole)."""
    shown = groups[:LOG_GROUPS_SHOWN]
    width = max((len(f"{g.count}×") for g in shown), default=2)
    room = max(console.width - width - 2, 20) if console.is_terminal else 10**6
    for group in shown:
        message = printable(cut(group.message, MAX_CELL))
        lines = textwrap.wrap(message, room, break_on_hyphens=False) or [""]
        if len(lines) > LOG_LINES_PER_GROUP:
            lines = [*lines[: LOG_LINES_PER_GROUP - 1], _ellipsis(" ".join(lines[LOG_LINES_PER_GROUP - 1 :]), room)]
        for at, text in enumerate(lines):
            count = f"{group.count}×".rjust(width) if at == 0 else " " * width
            console.print(Text.assemble((count, "title"), "  ", text), soft_wrap=True)
    hidden = groups[len(shown) :]
    if hidden:
        console.print(f"[muted]  … {len(hidden)} more message{'s' if len(hidden) != 1 else ''}: --verbose[/]")


def _ellipsis(text: str, room: int) -> str:
    return text if len(text) <= room else text[: room - 1] + "…"
