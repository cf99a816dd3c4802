"""Lines for the listings that must start at once (`runbook runs`, `incident list`): text
with a style per piece, written without rich, whose import costs a quarter of a whole
`ditsops --version`. Renderers that take an `Out` also take a rich Console (`incident
show` draws through one): `line` writes to either.

The rules are the consoles' (render/console.py): what the cli layer knows of the terminal
decides (cli/common.py `Terminal`), nothing here reads the process. Colour and weight only
on a terminal (or with FORCE_COLOR) and never with NO_COLOR or TERM=dumb; the width is
COLUMNS, else the terminal's, else 80. Text is written as is: it is never markup, so text
from outside needs no escaping here (renderers still make its controls visible: cells.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# render/console.py's THEME, as SGR codes
SGR = {"bold": "1", "muted": "2", "ok": "32", "warning": "33", "failing": "1;31", "error": "1;31", "title": "1"}

Piece = tuple[str, str]  # text, style ("" for none)


@dataclass
class Out:
    """A stream of lines, `width` columns wide; `color`: styles are written as SGR codes."""

    file: TextIO
    width: int = 80
    color: bool = False

    @property
    def is_terminal(self) -> bool:  # what rich's Console says of itself: a caller may ask either
        return self.color

    def write(self, pieces: list[Piece]) -> None:
        self.file.write("".join(self._styled(text, style) for text, style in pieces) + "\n")

    def _styled(self, text: str, style: str) -> str:
        code = SGR.get(style) if self.color and style and text else None
        return f"\x1b[{code}m{text}\x1b[0m" if code else text


def out_for(file: TextIO, *, isatty: bool, environ: Mapping[str, str]) -> Out:
    """An Out on `file` as the rich consoles would treat it, from the cli's Terminal."""
    terminal = isatty or bool(environ.get("FORCE_COLOR"))
    plain = "NO_COLOR" in environ or environ.get("TERM", "").lower() in ("dumb", "unknown")
    columns = environ.get("COLUMNS", "").strip()
    width = int(columns) if columns.isdigit() and 0 < int(columns) < 10_000 else 80
    if not columns.isdigit() and isatty:
        try:
            width = os.get_terminal_size(file.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            width = 80
    return Out(file, width=width, color=terminal and not plain)


def line(out: Out | Console | Any, *pieces: Piece) -> None:
    """One line of styled pieces, never wrapped (a terminal wraps it, a pipe keeps it whole)."""
    if isinstance(out, Out):
        out.write(list(pieces))
        return
    from rich.text import Text

    text = Text()
    for piece, style in pieces:
        text.append(piece, style=style or None)
    out.print(text, soft_wrap=True, no_wrap=True)
