"""Turning typed values into table cells: durations, times, folded query text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from rich.markup import escape as escape_markup

from ditsops.core.durations import format_duration

_WHITESPACE = re.compile(r"\s+")
# C0 controls but tab and newline, DEL, and C1: an escape sequence in an alert label, a log
# line or a runbook title must not move the cursor, clear the screen or restyle what
# follows it. Shown as \xNN, so the engineer sees that something odd was there.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def escape(text: str) -> str:
    """Text from outside (a backend, a runbook, a parameter) for a rich markup string:
    control characters made visible, markup taken literally."""
    return escape_markup(printable(text))


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
