"""PromQL results on a terminal."""

from __future__ import annotations

from rich.console import Console

from ditsops.core.results import StepResult
from ditsops.core.thresholds import format_value
from ditsops.render.cells import escape_line
from ditsops.render.tables import render_table


def render_query(console: Console, summary: StepResult, warnings: list[str], unit: str | None) -> None:
    for warning in warnings:
        console.print(f"[warning]Prometheus warning: {escape_line(warning)}[/]")
    data = summary.data or {}
    if data.get("result_type") == "scalar":
        console.print(format_value(summary.value, unit))
        return
    for table in summary.tables:
        render_table(console, table)
    console.print(f"[muted]{escape_line(summary.summary)}[/]")
