"""Live views (`--watch`) and followed logs: the frame around a refreshed view, the
timestamped separator between piped snapshots, and one followed log line."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.text import Text

from ditsops.render.cells import MAX_CELL, escape


def interval_text(seconds: float) -> str:
    """2s, 0.5s, 1m30s: how the refresh interval reads in the header."""
    if seconds >= 60 and seconds == int(seconds):
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    return f"{seconds:g}s"


def watch_frame(
    title: str,
    interval: float,
    at: datetime,
    body: Text | None,
    error: str | None = None,
    shown_at: datetime | None = None,
) -> RenderableType:
    """One refresh of a live view: a header like watch(1)'s (what, how often, when, how to
    leave), the backend's error when the last refresh failed (the view below is then the
    last good one, with its time), and the view."""
    header = Text.assemble(
        ("Every ", "muted"),
        (interval_text(interval), "muted"),
        (": ", "muted"),
        (f"ditsops {title}", "title"),
        ("   ", ""),
        (at.strftime("%H:%M:%S"), "muted"),
        ("   q or Ctrl-C leaves", "muted"),
    )
    parts: list[RenderableType] = [header]
    if error is not None:
        since = f" (showing the view of {shown_at:%H:%M:%S})" if shown_at and body is not None else ""
        parts.append(Text(f"refresh failed at {at:%H:%M:%S}: {error}{since}", style="failing"))
    parts.append(Text(""))
    if body is not None:
        parts.append(body)
    return Group(*parts)


def render_snapshot_header(console: Console, title: str, at: datetime) -> None:
    """Between piped snapshots (`--watch | tee`): when this one was taken, whole on one line."""
    console.print(f"[muted]--- {at.isoformat(timespec='seconds')} ditsops {escape(title)} ---[/]", soft_wrap=True)


def render_watch_error(console: Console, title: str, at: datetime, message: str) -> None:
    """A refresh that failed while piping snapshots: said on its own line; watching goes on."""
    console.print(
        f"[failing]{at.isoformat(timespec='seconds')} ditsops {escape(title)}: {escape(message)}[/]",
        soft_wrap=True,
    )


def render_log_line(console: Console, pod: str, text: str, width: int) -> None:
    """One followed log line, prefixed with its pod (as `k8s logs` prints them)."""
    if len(text) > MAX_CELL:  # a line that never ends: cut, saying so (-o json keeps it whole)
        text = f"{text[:MAX_CELL]}… ({len(text) - MAX_CELL} more characters; -o json: whole)"
    console.print(f"[muted]{escape(pod.ljust(width))}[/] {escape(text)}", highlight=False, soft_wrap=True)


def render_log_stream_end(console: Console, pod: str, reason: str) -> None:
    console.print(f"[muted]{escape(pod)}: {escape(reason)}[/]", soft_wrap=True)
