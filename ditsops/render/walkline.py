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
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.text import Text

from ditsops.core.model import Runbook, Step
from ditsops.core.params import display
from ditsops.core.results import LogGroup, Preview, Status, StepResult, Table
from ditsops.render.cells import MAX_CELL, cut, escape, escape_line, one_line, printable
from ditsops.render.console import STATUS_MARK, STATUS_STYLE
from ditsops.render.runbook import SHADOWS, render_preview, split_undo
from ditsops.render.tables import render_table

QUIET = frozenset({Status.OK, Status.SKIPPED, Status.DONE, Status.NOTHING_TO_DO})  # one line is all they need
DETAILED = frozenset({Status.FAILING, Status.WARNING, Status.ERROR})  # their tables are the evidence
LOG_GROUPS_SHOWN = 3  # distinct log messages shown in a compact walk
LOG_LINES_PER_GROUP = 2  # a message's lines at most, in a compact walk
# what the compact header names: where the changes land; the backends' URLs: --verbose
HEADER_KEPT = ("profile", "namespace", "database", "diagnostics", "production", "file")


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
        if label == "file" and value.endswith(SHADOWS):  # an own file runs instead of the shipped one
            where.append(f"file {one_line(value)}", style="warning")
        elif label == "production":
            # loud when it is: every change there asks for the target's name
            where.append("PRODUCTION" if value == "yes" else "not production", style="danger" if value == "yes" else "")
        else:
            where.append(f"{label} ", style="muted")
            where.append(one_line(value))
    if mode != "interactive":  # asked at each change: the usual; anything else is said
        where.append(" · ", style="muted")
        where.append(mode, style="warning")
    others = [value for label, value in target if label == "also firing"]
    if [o for o in others if o.startswith("no other")]:
        where.append(" · no other alert firing", style="muted")
    console.print(where)
    for label, value in target:
        if label == "resumes":
            console.print(Text.assemble(("resumes ", "muted"), one_line(value)))
    for other in others:  # the other alerts of this incident (or why they are unknown): seen first
        if not other.startswith("no other"):
            console.print(Text.assemble(("also firing: ", "warning"), (printable(other), "warning")), soft_wrap=True)
    given = {k: display(v) for k, v in params.items() if v is not None and display(v) != ""}
    if given:
        console.print(
            Text.assemble(("parameters: ", "muted"), one_line(", ".join(f"{k}={v}" for k, v in given.items())))
        )


def render_compact_preview(console: Console, preview: Preview) -> None:
    """What the step will do, then its table, alike rows folded (the summary would repeat
    the table in words; the `Equivalent:` line names every target, pid by pid)."""
    if preview.empty or preview.table is None or not preview.table.rows:
        render_preview(console, preview)
        return
    console.print(f"[danger]This will {escape(preview.headline or preview.summary)}:[/]")
    render_folded(console, preview.table)
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
    for table in result.tables:
        if "type" in table.columns and result.status not in QUIET:  # events: the warnings are the evidence
            render_warnings(console, table)
        elif result.status in DETAILED and (len(table.rows) > 1 or len(table.columns) > 1):
            render_folded(console, table)  # (one value alone is already on the step's line)
    if result.log_groups:
        render_brief_log_groups(console, result.log_groups)


# Folding a table's rows: columns that tell rows apart without telling anything of the
# incident (a pid, a start time) are left out; ages are summed up by the oldest.
ROW_IDENTITIES = frozenset({"pid", "backend_start", "client", "query_start", "xact_start", "state_change", "pod"})


def _is_age(name: str) -> bool:
    return name.endswith("age") or name in ("in state", "duration")


def fold_repeats(table: Table) -> Table:
    """Rows alike but for their identities folded into one, counted, with the oldest age:
    `19×  idle in transaction  8m53s  SELECT id, note …`. Unchanged when nothing repeats.
    The rows a step did not return (`table.total`) stay uncounted: the caller says so."""
    names = table.columns
    kept = [i for i, name in enumerate(names) if name not in ROW_IDENTITIES]
    if len(table.rows) < 2 or len(kept) == len(names) and not any(_is_age(n) for n in names):
        return table
    keyed = [i for i in kept if not _is_age(names[i])]
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in table.rows:
        groups.setdefault(tuple(repr(row[i]) for i in keyed), []).append(row)
    if len(groups) == len(table.rows):
        return table
    rows = [
        (f"{len(alike)}×", *(_oldest(alike, i) if _is_age(names[i]) else alike[0][i] for i in kept))
        for alike in groups.values()
    ]
    return Table(("count", *(names[i] for i in kept)), rows, title=table.title)


def _oldest(rows: list[tuple[Any, ...]], at: int) -> Any:
    values = [row[at] for row in rows if row[at] is not None]
    try:
        return max(values) if values else None
    except TypeError:  # not comparable: the first (steps list the oldest first)
        return values[0]


def folded(result: StepResult) -> StepResult:
    """The result with its tables' alike rows folded (`26× dits-server idle in transaction
    terminated`): the record keeps every row, pid by pid."""
    return replace(result, tables=[fold_repeats(table) for table in result.tables])


def render_folded(console: Console, table: Table) -> None:
    """A table with its repeated rows folded, and how many rows the step did not show."""
    folded = fold_repeats(table)
    render_table(console, folded)
    if folded is not table and table.total and table.total > len(table.rows):
        console.print(f"[muted]… {table.total - len(table.rows)} more rows not shown ({table.total} in all)[/]")


def render_warnings(console: Console, events: Table) -> None:
    """Kubernetes events: the Warning ones (folded when alike), and how many Normal ones
    are left to --verbose (scaled, pulled, started: the rollout going as it should)."""
    at = events.columns.index("type")
    warnings = [row for row in events.rows if row[at] == "Warning"]
    if warnings:
        render_folded(console, Table(events.columns, warnings, title=events.title))
    normal = len(events.rows) - len(warnings)
    if normal:
        console.print(f"[muted]  {normal} Normal event{'s' if normal != 1 else ''} not shown: --verbose[/]")


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
