"""`runbook runs`: the recorded runs as a table. Pure: (console, summaries) -> nothing returned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from rich.console import Console
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from ditsops.core.runs import RunSummary
from ditsops.render.cells import MAX_CELL, cut, one_line

VERDICT_MIN = 20  # the verdict folds; below this it tells nothing
# On a terminal too narrow for every column these go first: the run id carries both.
EXPENDABLE = ("started", "runbook")


def render_runs(console: Console, runs: Sequence[RunSummary]) -> None:
    if not runs:
        console.print("No runs recorded yet. Walk one with: ditsops runbook NAME")
        return
    rows = [_row(run) for run in runs]
    names = ("started", "runbook", "user", "profile", "exit", "run")
    widths = {name: max(len(name), *(len(row[name]) for row in rows)) for name in names}
    verdict_width = max(len("verdict"), *(len(row["verdict"]) for row in rows))
    columns = list(names)

    def width(verdict: int) -> int:  # columns padded by one space on each inner side
        return sum(widths[name] for name in columns) + verdict + 2 * len(columns)

    hidden = []
    if console.is_terminal:
        for name in EXPENDABLE:
            if width(VERDICT_MIN) > console.width:
                columns.remove(name)
                hidden.append(name)
        # Identifiers are never cut: only the verdict folds, and a terminal narrower than
        # the identifiers wraps the line rather than lose a character of a run id.
        shown_width = min(width(verdict_width), max(console.width, width(VERDICT_MIN)))
    else:
        shown_width = width(verdict_width)  # off a terminal: no width limit
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in columns[:-1]:
        table.add_column(name, no_wrap=True, min_width=widths[name])
    table.add_column("verdict", overflow="fold", min_width=min(VERDICT_MIN, verdict_width))
    table.add_column("run", no_wrap=True, min_width=widths["run"])
    for run, row in zip(runs, rows, strict=True):
        style = "muted" if run.exit_code is None else "ok" if run.exit_code == 0 else "failing"
        # Text, not markup: a record's fields are data (a title, a verdict naming a label)
        table.add_row(*(Text(row[name]) for name in columns[:-1]), Text(row["verdict"], style=style), Text(row["run"]))
    # rich never renders wider than the console: lay the table out at its own width, then
    # write the lines uncropped.
    lines = console.render_lines(table, console.options.update_width(shown_width), pad=False)
    console.print(Segments(segment for line in lines for segment in (*line, Segment.line())), end="", crop=False)
    if hidden:
        console.print(f"[muted](narrow terminal: {', '.join(hidden)} not shown; the run id has them)[/]")


def _row(run: RunSummary) -> dict[str, str]:
    verdict = run.verdict + (" (dry run)" if run.dry_run else "")
    row = {
        "started": run.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if run.started else "?",
        "runbook": run.runbook,
        "user": run.user,
        "profile": run.profile,
        "exit": "-" if run.exit_code is None else str(run.exit_code),
        "verdict": verdict,
        "run": run.run_id,
    }
    return {name: cut(one_line(value), MAX_CELL) for name, value in row.items()}
