"""Kubernetes views on a terminal."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from ditsops.core.kube import pod_table
from ditsops.core.results import Table
from ditsops.render.cells import MAX_CELL, escape, escape_line
from ditsops.render.tables import render_table

_POD_STYLE = {
    "CrashLoopBackOff": "failing",
    "ImagePullBackOff": "failing",
    "ErrImagePull": "failing",
    "OOMKilled": "failing",
    "Error": "failing",
    "Terminating": "muted",
}


def _age(seconds: float | None) -> timedelta | None:
    return timedelta(seconds=int(seconds)) if seconds is not None else None


def render_target(console: Console, target) -> None:
    where = f"context {target.context} at {target.server}, namespace {target.namespace}"
    console.print(f"[muted]{escape_line(where)}[/]")


def render_status(console: Console, views, target) -> None:
    render_target(console, target)
    if not views:
        console.print("[muted]No deployments.[/]")
        return
    for d in views:
        style = "ok" if d.healthy else "failing"
        paused = " [warning]paused[/]" if d.paused else ""
        console.print(
            f"\n[title]{d.name}[/] [{style}]{d.available}/{d.desired} available[/], {d.updated} up-to-date, "
            f"{d.ready} ready, revision {d.revision}{paused}"
        )
        # soft_wrap: an image reference is never broken mid-word (a terminal wraps the line)
        console.print(f"  images: {escape(', '.join(d.images))}", soft_wrap=True)
        for kind, status, reason, message in d.conditions:
            console.print(f"  [muted]{kind}={status} {reason}: {escape(message)}[/]")
        render_table(console, pod_table(d.pods), styles={"reason": _POD_STYLE})


def render_logs(console: Console, lines, pods: int) -> None:
    width = max((len(line.pod) for line in lines), default=0)
    for line in lines:
        text = line.text  # a 10 MB line is cut, saying so; -o json keeps it whole
        if len(text) > MAX_CELL:
            text = f"{text[:MAX_CELL]}… ({len(text) - MAX_CELL} more characters; -o json: whole)"
        console.print(f"[muted]{line.pod:<{width}}[/] {escape(text)}", highlight=False, soft_wrap=True)
    console.print(f"[muted]{len(lines)} lines from {pods} pods[/]")


def render_events(console: Console, events, *, full: bool = False) -> None:
    """One line an event on a terminal, its message cut with `…` (whole with full, and
    always whole off a terminal); the object named whole."""
    if not events:
        console.print("[muted]No events.[/]")
        return
    render_table(
        console,
        Table(
            ("age", "type", "reason", "object", "message"),
            [(_age(e.age), e.type, e.reason, e.object, e.message) for e in events],
        ),
        styles={"type": {"Warning": "warning"}},
        full=full,
    )


def render_history(console: Console, revisions) -> None:
    render_table(
        console,
        Table(
            ("revision", "", "images", "change-cause", "age", "pods"),
            [
                (r.number, "current" if r.current else "", ", ".join(r.images), r.change_cause, _age(r.age), r.replicas)
                for r in reversed(revisions)
            ],
        ),
        styles={"": {"current": "ok"}},
    )
