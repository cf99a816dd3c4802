"""Alerts and silences on a terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from ditsops.base.durations import format_duration
from ditsops.core.results import Table
from ditsops.render.cells import escape, escape_line
from ditsops.render.tables import render_table

_STATE_STYLE = {"firing": "failing", "pending": "warning", "silenced": "muted", "inhibited": "muted"}


MAX_ROWS = 1000


def _age(since: datetime | None) -> str:
    if since is None:
        return ""
    return format_duration((datetime.now(UTC) - since).total_seconds())


def render_alerts(console: Console, views, *, full: bool = False) -> None:
    """At most MAX_ROWS alerts (the most severe first) unless `full`: 100,000 alerts are a
    count and a top, not 100,000 lines."""
    if not views:
        console.print("[ok]No alerts firing or pending.[/]")
        return
    total = len(views)
    views = views if full else views[:MAX_ROWS]
    rows = [
        (
            v.alert.state,
            v.alert.name,
            v.alert.severity,
            _age(v.alert.since),
            v.runbook or "",
            v.alert.annotations.get("summary", ""),
        )
        for v in views
    ]
    render_table(
        console,
        Table(("state", "alert", "severity", "for", "runbook", "summary"), rows, total=total),
        styles={"state": _STATE_STYLE},
        expendable=("summary", "severity"),
        full=full,
    )
    # Commands to paste go on lines of their own, whole at any width: a table would cut them.
    commands = list(dict.fromkeys(v.command for v in views if v.command))
    if commands:
        console.print()
        for command in commands:
            console.print(f"[muted]run:[/] {escape(command)}", soft_wrap=True)


def _until(ends: datetime | None) -> str:
    if ends is None:
        return ""
    left = (ends - datetime.now(UTC)).total_seconds()
    return f"in {format_duration(left)}" if left > 0 else f"{format_duration(-left)} ago"


def render_silences(console: Console, silences) -> None:
    if not silences:
        console.print("[muted]No silences.[/]")
        return
    rows = [
        (s.id, s.state, " ".join(m.describe() for m in s.matchers), _until(s.ends), s.created_by, s.comment)
        for s in silences
    ]
    render_table(
        console, Table(("id", "state", "matchers", "ends", "by", "comment"), rows), expendable=("by", "comment")
    )


def render_alert_choices(console: Console, views) -> None:
    """Several firing alerts of one name, numbered for the engineer to pick one (cli/prompts.py asks)."""
    console.print(f"[title]{len(views)} alerts of this name are firing:[/]")
    for number, view in enumerate(views, 1):
        labels = ", ".join(f"{k}={v}" for k, v in sorted(view.alert.labels.items()) if k != "alertname")
        console.print(
            f"  {number}. {escape_line(view.alert.state)} for {_age(view.alert.since)}: {escape_line(labels)}"
        )


def render_choice_refused(console: Console) -> None:
    console.print("[warning]Type one of the numbers shown.[/]")
