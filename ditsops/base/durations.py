"""Durations as on-call engineers write them: 30s, 5m, 1h30m, 2d (Prometheus syntax)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Same shape Prometheus accepts, so a valid duration here is a valid PromQL range too.
_DURATION = re.compile(r"^(?:(\d+)(ms|s|m|h|d|w))+\Z")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """Parse '5m' or '1h30m'; raises ValueError with the accepted forms."""
    cleaned = str(text).strip()
    if not _DURATION.match(cleaned):
        raise ValueError(f"{text!r} is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)")
    if len(cleaned) > 64:  # int() of thousands of digits is slow, and no wait lasts that long
        raise ValueError(f"{cleaned[:20]!r}... is not a duration (too long)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # beyond timedelta's 999999999 days
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(value: timedelta | float) -> str:
    """Compact human form: 4m12s, 2h03m, 3d04h; sub-second values as 0.42s."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds != seconds or abs(seconds) == float("inf"):  # NaN (0/0 in PromQL) or infinite
        return "NaN" if seconds != seconds else ("-" if seconds < 0 else "") + "Inf"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def to_prometheus(value: timedelta) -> str:
    """A timedelta as a PromQL duration literal (whole seconds, largest exact unit)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
