"""Comparing a step's value with its warn/fail thresholds, and saying so in words."""

from __future__ import annotations

from ditsops.base.units import format_bytes, format_value
from ditsops.core.model import Threshold
from ditsops.core.results import Status

__all__ = ["evaluate", "format_bytes", "format_value", "summarize"]


def evaluate(threshold: Threshold | None, value: float | None) -> Status:
    if threshold is None or value is None:
        return Status.INFO
    above = threshold.direction == "above"

    def worse(v: float, bound: float) -> bool:
        return v > bound if above else v < bound

    if threshold.fail is not None and worse(value, threshold.fail):
        return Status.FAILING
    if threshold.warn is not None and worse(value, threshold.warn):
        return Status.WARNING
    return Status.OK


def summarize(value: float | None, unit: str | None, threshold: Threshold | None, status: Status) -> str:
    """'92.0% — above fail threshold 90%' or '12.0% — within thresholds (warn 80%, fail 90%)'."""
    shown = format_value(value, unit)
    if threshold is None or value is None:
        return shown
    side = threshold.direction
    if status == Status.FAILING:
        return f"{shown} — {side} fail threshold {format_value(threshold.fail, unit, words=False)}"
    if status == Status.WARNING:
        return f"{shown} — {side} warn threshold {format_value(threshold.warn, unit, words=False)}"
    bounds = ", ".join(
        f"{name} {format_value(bound, unit, words=False)}"
        for name, bound in (("warn", threshold.warn), ("fail", threshold.fail))
        if bound is not None
    )
    return f"{shown} — within thresholds ({bounds})"
