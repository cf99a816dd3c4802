"""Comparing a step's value with its warn/fail thresholds, and saying so in words."""

from __future__ import annotations

import math

from ditsops.base.units import format_bytes, format_value, split_unit
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


def _decimal_bytes(unit: str | None, bounds: list[float]) -> bool:
    """Bytes bounds written as round powers of 1000 (`100e9`, as the LargeUpload rule's
    `> 100e9`) are GB, not 93.1 GiB: the value is then written in GB too."""
    if split_unit(unit)[0] not in ("bytes", "bytes-per-second") or not bounds:
        return False

    def whole(b: float, step: int) -> bool:  # a whole number of its own prefix: 100e9 is 100 GB
        return float(abs(b) / step ** max(1, int(math.log(abs(b), step)))).is_integer()

    return all(abs(b) >= 1000 and whole(b, 1000) and not whole(b, 1024) for b in bounds)


def summarize(value: float | None, unit: str | None, threshold: Threshold | None, status: Status) -> str:
    """'92.0% — above fail threshold 90%' or '12.0% — within thresholds (warn 80%, fail 90%)'.

    A value is failing when strictly beyond its bound (the alert rules' `>`), so a value
    that rounds to its bound is shown with more decimals: never `5.0% — above fail
    threshold 5.0%`."""
    if threshold is None or value is None:
        return format_value(value, unit)
    bounds = [b for b in (threshold.warn, threshold.fail) if b is not None]
    decimal = _decimal_bytes(unit, bounds)
    digits = 1
    while (
        digits < 6
        and value not in bounds
        and any(
            format_value(value, unit, words=False, decimal=decimal, digits=digits)
            == format_value(b, unit, words=False, decimal=decimal, digits=digits)
            for b in bounds
        )
    ):
        digits += 1
    shown = format_value(value, unit, decimal=decimal, digits=digits)

    def bound(b: float | None) -> str:
        return format_value(b, unit, words=False, decimal=decimal, digits=digits)

    side = threshold.direction
    if status == Status.FAILING:
        return f"{shown} — {side} fail threshold {bound(threshold.fail)}"
    if status == Status.WARNING:
        return f"{shown} — {side} warn threshold {bound(threshold.warn)}"
    listed = ", ".join(
        f"{name} {bound(b)}" for name, b in (("warn", threshold.warn), ("fail", threshold.fail)) if b is not None
    )
    return f"{shown} — within thresholds ({listed})"
