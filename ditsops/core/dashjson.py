"""Tolerant readers of Grafana JSON: a field of the wrong type reads as absent, never as a crash."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

JsonObject = Mapping[str, object]


def obj(value: object) -> JsonObject:
    return cast(JsonObject, value) if isinstance(value, dict) else {}


def items(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None or isinstance(value, (dict, list)) else str(value)


def integer(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 12:
            return int(value)
        return default
    if value != value or value in (float("inf"), float("-inf")):
        return default
    return int(value)


def optional_int(value: object) -> int | None:
    found = integer(value, -(1 << 62))
    return None if found == -(1 << 62) else found


def optional_float(value: object) -> float | None:
    """A finite number, else None (a NaN or an infinity from a hand-made file is no bound)."""
    if isinstance(value, bool):
        return None
    found: float | None = None
    if isinstance(value, (int, float)):
        found = float(value) if abs(value) < 1e308 or isinstance(value, float) else None
    elif isinstance(value, str) and len(value) < 40:
        try:
            found = float(value)
        except ValueError:
            return None
    return found if found is not None and math.isfinite(found) else None


def decimals(value: object) -> int | None:
    """Grafana's decimals, at most 20 (a format string takes no more)."""
    found = optional_int(value)
    return None if found is None else clamp(found, 0, 20)


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
