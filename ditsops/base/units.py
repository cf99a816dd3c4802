"""Values with their unit, in the form an engineer reads at a glance.

A step's `unit:` is one of UNITS, optionally followed by words that say what the value
means, printed after it: `unit: seconds ago` shows 252 as `4m12s ago`, `unit: hours until
full` shows 0.27 as `16 min until full`. Thresholds are shown in the bare unit (`below
fail threshold 6h`): the words belong to the measured value.

    percent           94.0%
    ratio             3.32×        (a multiple: this rate against its usual level)
    seconds           4m12s, 8.2s, 0.45s
    hours             16 min, 5h20m, 2d04h
    bytes             983.0 GiB
    bytes-per-second  120.9 MiB/s
    per-second        316/s, 16.2/s
    count             24
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ditsops.base.durations import format_duration

UNITS = ("percent", "ratio", "seconds", "hours", "bytes", "bytes-per-second", "count", "per-second")


def split_unit(unit: str | None) -> tuple[str | None, str]:
    """('seconds', 'ago') from 'seconds ago'; the unit alone when no words follow."""
    if not unit:
        return None, ""
    base, _, words = unit.strip().partition(" ")
    return base, " ".join(words.split())


def unit_problem(unit: str) -> str | None:
    """Why `unit` is not a unit a runbook step may name, or None when it is one."""
    base, _ = split_unit(unit)
    if base in UNITS:
        return None
    return f"unit must be one of {', '.join(UNITS)}, optionally followed by words (e.g. 'seconds ago')"


def format_value(
    value: float | None, unit: str | None, *, words: bool = True, decimal: bool = False, digits: int = 1
) -> str:
    """`value` in its unit's human form; `words=False` leaves out the words after the unit
    (for thresholds and bounds, which are not the measured thing). `decimal` writes bytes
    in powers of 1000 (GB, as a rule written `> 100e9` means); `digits` the decimals of a
    percentage or a byte size."""
    if value is None:
        return "no value"
    base, after = split_unit(unit)
    shown = _format(float(value), base, decimal, digits) if math.isfinite(value) else _not_finite(value)
    return f"{shown} {after}" if after and words else shown


def _not_finite(value: float) -> str:
    if value != value:
        return "NaN"  # 0/0 in PromQL: no traffic to divide by
    return "Inf" if value > 0 else "-Inf"


def _format(value: float, unit: str | None, decimal: bool = False, digits: int = 1) -> str:
    if unit == "percent":
        return f"{value:.{digits}f}%"
    if unit == "ratio":
        return f"{value:.2f}×"
    if unit == "seconds":
        return format_duration(value)
    if unit == "hours":
        return coarse_duration(value * 3600)
    if unit == "bytes":
        return format_bytes(value, decimal=decimal, digits=digits)
    if unit == "bytes-per-second":
        return f"{format_bytes(value, decimal=decimal, digits=digits)}/s"
    if unit == "per-second":
        return f"{_number(value)}/s"
    if unit == "count":
        return str(round(value))
    return _number(value)


def _number(value: float) -> str:
    """A number without exponent notation: 316, 16.2, 0.25, 259500."""
    if value.is_integer():
        return str(int(value))
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def format_bytes(value: float, *, decimal: bool = False, digits: int = 1) -> str:
    """983.0 GiB, or with decimal 1.1 TB: the two differ by 7% at this size, so a value and
    the bound it is compared with must be written in the same system."""
    step = 1000 if decimal else 1024
    suffixes = ("B", "kB", "MB", "GB", "TB", "PB") if decimal else ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    size = float(value)
    for suffix in suffixes:
        if abs(size) < step or suffix == suffixes[-1]:
            return f"{size:.0f} {suffix}" if suffix == "B" else f"{size:.{digits}f} {suffix}"
        size /= step
    return f"{size:.{digits}f} {suffixes[-1]}"


def coarse_duration(seconds: float) -> str:
    """A time span to the minute, for spans measured in hours: `16 min`, `6h`, `5h20m`, `2d04h`."""
    if seconds < 0:
        return "-" + coarse_duration(-seconds)
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min" if minutes or not seconds else "under 1 min"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h" if hours else f"{days}d"
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


@dataclass(frozen=True)
class Quantity:
    """A table cell that keeps its number and shows its unit: `44.0%` in a table."""

    value: float
    unit: str

    def __str__(self) -> str:
        return format_value(self.value, self.unit)


# Result columns whose name says their unit (`percent_of_max`, `size_bytes`).
_COLUMN_UNITS = (("percent", "percent"), ("pct", "percent"), ("bytes", "bytes"), ("seconds", "seconds"))


def column_unit(column: str) -> str | None:
    """The unit a column's name announces: a `percent`/`pct`, `bytes` or `seconds` word in it."""
    parts = column.lower().replace("-", "_").split("_")
    for word, unit in _COLUMN_UNITS:
        if word in parts:
            return unit
    return None
