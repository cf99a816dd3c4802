"""Consoles and the styles every renderer shares.

Rich already turns colour off for NO_COLOR and when output is not a terminal; the
consoles are made per command so tests that swap the streams get what they swapped in.
What the consoles know of the terminal (NO_COLOR, FORCE_COLOR, COLUMNS) is handed in by
the cli layer (cli/common.py `Terminal`): nothing here reads the process's environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Console
from rich.theme import Theme

from ditsops.core.results import Status

THEME = Theme(
    {
        "ok": "green",
        "warning": "yellow",
        "failing": "bold red",
        "error": "bold red",
        "muted": "dim",
        "title": "bold",
        "query": "cyan",
        "danger": "bold magenta",
    }
)

STATUS_STYLE = {
    Status.OK: "ok",
    Status.INFO: "muted",
    Status.WARNING: "warning",
    Status.FAILING: "failing",
    Status.ERROR: "error",
    Status.SKIPPED: "muted",
    Status.APPLIED: "ok",
    Status.DECLINED: "warning",
    Status.REFUSED: "warning",
    Status.PREVIEWED: "muted",
    Status.NOTHING_TO_DO: "muted",
    Status.DONE: "ok",
    Status.PENDING: "warning",
}

STATUS_MARK = {
    Status.OK: "✔",
    Status.INFO: "•",
    Status.WARNING: "▲",
    Status.FAILING: "✖",
    Status.ERROR: "✖",
    Status.SKIPPED: "–",
    Status.APPLIED: "✔",
    Status.DECLINED: "–",
    Status.REFUSED: "✋",
    Status.PREVIEWED: "○",
    Status.NOTHING_TO_DO: "–",
    Status.DONE: "✔",
    Status.PENDING: "…",
}


@dataclass
class Consoles:
    out: Console
    err: Console


def make_consoles(*, no_color: bool = False, environ: Mapping[str, str] | None = None) -> Consoles:
    """stdout and stderr consoles; `environ` is what rich reads colour and width from
    (None: rich reads the process's own)."""
    return Consoles(
        out=Console(theme=THEME, no_color=no_color, highlight=False, soft_wrap=False, _environ=environ),
        err=Console(theme=THEME, stderr=True, no_color=no_color, highlight=False, _environ=environ),
    )
