"""Turning typed values into table cells: durations, times, folded query text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from ditsops.base.durations import format_duration

_WHITESPACE = re.compile(r"\s+")
MAX_CELL = 4096  # characters of one cell or line from outside shown without --full: far past any name or message
# C0 controls but tab and newline, DEL, and C1 (a raw U+009B is a CSI on many terminals):
# an escape sequence in an alert label, a log line or a runbook title must not move the
# cursor, clear the screen or restyle what follows it. Shown as \xNN, so the engineer
# sees that something odd was there. Bidi overrides and isolates (U+202A-U+202E,
# U+2066-U+2069, and the marks U+200E, U+200F, U+061C) reorder what follows them on the
# screen, so a name could read as another: shown as \uNNNN.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def printable(text: str) -> str:
    shown = _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
    return _BIDI.sub(lambda found: f"\\u{ord(found.group()):04x}", shown)


def one_line(text: str) -> str:
    """A single-line field (a title, a name, a label, a parameter): a newline in it shown
    as \\n, so it cannot forge a line of its own under the real one."""
    return printable(_NEWLINE.sub(lambda found: found.group().replace("\r", "\\r").replace("\n", "\\n"), text))


def escape_markup(text: str) -> str:
    """rich's own escape, imported when used: the listings that print without rich
    (render/lines.py) import this module and must not pay for rich."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def escape(text: str) -> str:
    """Text from outside (a backend, a runbook, a parameter) for a rich markup string:
    control characters made visible, markup taken literally."""
    return escape_markup(printable(text))


def escape_line(text: str) -> str:
    """`escape` for a single-line field: newlines shown as \\n too."""
    return escape_markup(one_line(text))


def fold(text: str) -> str:
    """Query text on one line: runs of whitespace, newlines included, become one space."""
    return printable(_WHITESPACE.sub(" ", text).strip())


def cut(text: str, width: int) -> str:
    if width <= 0 or len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4g}" if not value.is_integer() else str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fold(str(value))
