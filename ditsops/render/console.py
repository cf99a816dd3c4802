"""Consoles and the styles every renderer shares.

Rich already turns colour off for NO_COLOR and when output is not a terminal; the
consoles are made per command so tests that swap the streams get what they swapped in.
"""

from __future__ import annotations

import os
import sys
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

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and self.out.is_terminal


def make_consoles(*, no_color: bool = False) -> Consoles:
    no_color = no_color or "NO_COLOR" in os.environ
    return Consoles(
        out=Console(theme=THEME, no_color=no_color, highlight=False, soft_wrap=False),
        err=Console(theme=THEME, stderr=True, no_color=no_color, highlight=False),
    )
