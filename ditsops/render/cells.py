"""Turning typed values into table cells: durations, times, folded query text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from ditsops.core.durations import format_duration

_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Query text on one line: runs of whitespace, newlines included, become one space."""
    return _WHITESPACE.sub(" ", text).strip()


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
