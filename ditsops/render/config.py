"""The effective settings as a table (secrets already redacted by Settings.redacted)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ditsops.core.config import Settings
from ditsops.core.results import Table
from ditsops.render.tables import render_table


def render_settings(console: Console, settings: Settings, path: Path) -> None:
    exists = "" if path.exists() else " (not present)"
    console.print(f"[muted]config file: {path}{exists}[/]")
    # The value last: a long URL or path then runs over only its own line on a narrow terminal.
    rows = [
        (key, settings.sources.get(key, ""), "" if value is None else str(value))
        for key, value in settings.redacted().items()
    ]
    render_table(console, Table(("setting", "source", "value"), rows), too_narrow="long lines")
