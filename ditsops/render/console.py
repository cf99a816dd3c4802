"""Consoles and the styles every renderer shares.

Rich already turns colour off for NO_COLOR and when output is not a terminal; the
consoles are made per command so tests that swap the streams get what they swapped in.
What the consoles know of the terminal (NO_COLOR, FORCE_COLOR, COLUMNS) is handed in by
the cli layer (cli/common.py `Terminal`): nothing here reads the process's environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Console, RenderableType
from rich.segment import Segment, Segments
from rich.theme import Theme

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

# keyed by core.results.Status's values (a StrEnum: its members look these up), so that
# drawing a listing does not import the step results' module
STATUS_STYLE: dict[str, str] = {
    "ok": "ok",
    "info": "muted",
    "warning": "warning",
    "failing": "failing",
    "error": "error",
    "skipped": "muted",
    "applied": "ok",
    "declined": "warning",
    "refused": "warning",
    "previewed": "muted",
    "nothing-to-do": "muted",
    "done": "ok",
    "pending": "warning",
}

STATUS_MARK: dict[str, str] = {
    "ok": "✔",
    "info": "•",
    "warning": "▲",
    "failing": "✖",
    "error": "✖",
    "skipped": "–",
    "applied": "✔",
    "declined": "–",
    "refused": "✋",
    "previewed": "○",
    "nothing-to-do": "–",
    "done": "✔",
    "pending": "…",
}


@dataclass
class Consoles:
    out: Console
    err: Console
    # Where questions go when they must stay out of stdout (stdout piped to `tee`, a person
    # at the terminal): stderr or the controlling terminal. None: on `out`, with the walk.
    ask: Console | None = None


def make_consoles(*, no_color: bool = False, environ: Mapping[str, str] | None = None) -> Consoles:
    """stdout and stderr consoles; `environ` is what rich reads colour and width from
    (None: rich reads the process's own)."""
    return Consoles(
        out=Console(theme=THEME, no_color=no_color, highlight=False, soft_wrap=False, _environ=environ),
        err=Console(theme=THEME, stderr=True, no_color=no_color, highlight=False, _environ=environ),
    )


UNBOUNDED = 100_000  # the width a table is laid out at where output has no width


def unbounded(console: Console) -> bool:
    """Output that has no width: a pipe or a file (kubectl's rule: nothing is cut there).
    A console rich treats as a terminal (a tty, or FORCE_COLOR/TTY_COMPATIBLE) keeps its width."""
    return not console.is_terminal


def print_at(console: Console, renderable: RenderableType, width: int) -> None:
    """Print `renderable` laid out `width` columns wide, wider than the console if it must
    be: its lines are never cut to the console's width (a terminal wraps them, a pipe keeps
    them whole). Trailing blanks are dropped, so a wide last column pads no line. Human
    text keeps the console's width; tables come through here."""
    options = console.options.update_width(max(width, 1))
    lines = []
    for line in console.render_lines(renderable, options, pad=False, new_lines=False):
        while line and not line[-1].text.strip():
            line.pop()
        if line:
            last = line[-1]
            line[-1] = Segment(last.text.rstrip(), last.style, last.control)
        lines.extend([*line, Segment.line()])
    console.print(Segments(lines), crop=False)
