"""Typed runbook parameters: every value is validated before any step can use it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

from ditsops.base.durations import format_duration, parse_duration

# A parameter's typed value (None: an optional parameter left unset, without a default).
ParamValue: TypeAlias = str | int | float | bool | timedelta | None

# Kubernetes object names and label values, database and user names: safe to place
# anywhere (label value, SQL bound parameter, kubectl argument) without quoting.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,251}[a-z0-9])?\Z")

TYPES = ("string", "name", "integer", "number", "duration", "boolean", "choice")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str = "string"
    default: ParamValue = None
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False


def convert(spec: ParamSpec, raw: object) -> ParamValue:
    """The typed value of raw for spec, or ValueError naming what was expected."""
    kind = spec.type
    if kind == "duration":
        duration = raw if isinstance(raw, timedelta) else parse_duration(str(raw))
        _check_bounds(spec, duration.total_seconds(), format_duration)
        return duration
    if kind == "integer":
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(f"{raw!r} is not an integer")
        try:
            integer = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not an integer") from None
        _check_bounds(spec, integer, str)
        return integer
    if kind == "number":
        try:
            number = float(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        _check_bounds(spec, number, str)
        return number
    if kind == "boolean":
        lowered = str(raw).strip().lower()
        if lowered in {"true", "yes", "1", "on"}:
            return True
        if lowered in {"false", "no", "0", "off"}:
            return False
        raise ValueError(f"{raw!r} is not a boolean (true/false)")
    if kind == "name":
        text = str(raw)
        if not _NAME.match(text):
            raise ValueError(
                f"{text!r} is not a valid name (lower-case letters, digits, '-', '.', '_'; "
                "starting and ending with a letter or digit)"
            )
        return text
    if kind == "choice":
        text = str(raw)
        if text not in spec.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(spec.choices)}")
        return text
    text = str(raw)
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


def _check_bounds(spec: ParamSpec, value: float, show: Callable[[float], str]) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"{show(value)} is below the minimum {show(spec.minimum)}")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"{show(value)} is above the maximum {show(spec.maximum)}")


def display(value: ParamValue) -> str:
    """A parameter value as the engineer would type it."""
    if isinstance(value, timedelta):
        from ditsops.base.durations import to_prometheus

        return to_prometheus(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
