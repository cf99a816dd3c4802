"""Comparing a step's value with its warn/fail thresholds, and saying so in words."""

from __future__ import annotations

from ditsops.core.durations import format_duration
from ditsops.core.model import Threshold
from ditsops.core.results import Status


def evaluate(threshold: Threshold | None, value: float | None) -> Status:
    if threshold is None or value is None:
        return Status.INFO
    worse = (lambda v, bound: v > bound) if threshold.direction == "above" else (lambda v, bound: v < bound)
    if threshold.fail is not None and worse(value, threshold.fail):
        return Status.FAILING
    if threshold.warn is not None and worse(value, threshold.warn):
        return Status.WARNING
    return Status.OK


def format_value(value: float | None, unit: str | None) -> str:
    if value is None:
        return "no value"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "seconds":
        return format_duration(value)
    if unit == "bytes":
        return format_bytes(value)
    if unit == "per-second":
        return f"{value:.3g}/s"
    if unit == "count" or float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.4g}"


def format_bytes(value: float) -> str:
    size = float(value)
    for suffix in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or suffix == "PiB":
            return f"{size:.0f} {suffix}" if suffix == "B" else f"{size:.1f} {suffix}"
        size /= 1024
    return f"{size:.1f} PiB"


def summarize(value: float | None, unit: str | None, threshold: Threshold | None, status: Status) -> str:
    """'92.0% — above fail threshold 90%' or '12.0% — within thresholds (warn 80%, fail 90%)'."""
    shown = format_value(value, unit)
    if threshold is None or value is None:
        return shown
    side = threshold.direction
    if status == Status.FAILING:
        return f"{shown} — {side} fail threshold {format_value(threshold.fail, unit)}"
    if status == Status.WARNING:
        return f"{shown} — {side} warn threshold {format_value(threshold.warn, unit)}"
    bounds = ", ".join(
        f"{name} {format_value(bound, unit)}"
        for name, bound in (("warn", threshold.warn), ("fail", threshold.fail))
        if bound is not None
    )
    return f"{shown} — within thresholds ({bounds})"
