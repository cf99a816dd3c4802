"""`--help` in the words of the command line, not of Python.

Typer (0.2x) shows each option's Python type as its metavar: `--yes <bool>` (a flag that
looks as if it took a value), `--set <list[str]>`, `--limit <int range> [x>=1]`, and an
argument as `{deployment}` in the usage line. `install` makes help follow the usual
conventions instead (kubectl's, git's, click's own before typer): a flag has no metavar; a
value is shown by what it is (`--limit N`, `--pid PID`, `--output table|json`,
`--config PATH`) or by the option's own `metavar=` (`--set KEY=VALUE`); a range reads
`1..50` (`1..` with no upper end); an argument is `DEPLOYMENT`.

Like cli/coercion.py it replaces methods of typer's parameter classes (help only: values,
errors and completion are untouched); with a typer whose classes lack them, nothing changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer.core import TyperArgument, TyperOption
except ImportError:  # pragma: no cover - another typer: leave its help alone
    TyperArgument = TyperOption = None  # type: ignore[assignment,misc]


def describe_range(low: float | None, high: float | None) -> str | None:
    """`1..50`, `1..` or `..50`: the bounds, inclusive, as a person writes them."""
    if low is None and high is None:
        return None
    return f"{'' if low is None else low}..{'' if high is None else high}"


# What a value is, where the option's name does not say it: durations, names, pairs.
KNOWN = {
    "older-than": "DURATION",
    "since": "DURATION",
    "timeout": "DURATION",
    "for": "DURATION",
    "wait": "DURATION",
    "step": "DURATION",
    "from": "STEP-ID",
    "confirm-target": "NAME",
    "expect-hash": "SHA256",
    "from-cronjob": "CRONJOB",
    "var": "NAME=VALUE",
    "assignments": "KEY=VALUE|KEY-",
    "matchers": "MATCHER",
    "paths": "PATH",
    "silence-id": "ID",
    "expr": "PROMQL",
    "run": "RUN",
    "grep": "PATTERN",
}


def _long_name(param: Any) -> str:
    """`PID` for --pid (the name people type, not the Python parameter's `pids`)."""
    longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    name = (longs[0][2:] if longs else (param.name or "value")).replace("_", "-")
    return KNOWN.get(name, name.upper())


def _value_metavar(param: Any) -> str:
    desc = param.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    annotation = desc.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (str,)
    if annotation is int:
        # a repeatable --pid reads `--pid PID`; a count or limit `--limit N`
        return _long_name(param) if get_origin(desc.annotation) is list else "N"
    if annotation is float:
        return "NUMBER"
    if annotation is Path or desc.is_path:
        return "PATH"
    return _long_name(param)


def _option_metavar(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    if self.is_flag or self.count:
        return None
    return _value_metavar(self)


def _option_range(self: Any) -> str | None:
    if self.count and self.min == 0 and self.max is None:
        return None
    return describe_range(self.min, self.max)


def _argument_name(self: Any) -> str:
    return str(self.metavar) if self.metavar is not None else _long_name(self)


def _argument_usage(self: Any) -> str:
    name = _argument_name(self)
    name = name if self.required else f"[{name}]"
    return f"{name}..." if self.nargs != 1 else name


def _argument_rich_name(self: Any) -> str:
    name = _argument_name(self)
    return f"{name}..." if self.metavar is None and self.nargs != 1 else name


def install() -> None:
    """From now on help shows metavars and ranges as the command line writes them."""
    if TyperOption is None or not hasattr(TyperOption, "display_type_rich"):
        return
    TyperOption.display_type_rich = _option_metavar  # type: ignore[method-assign]
    TyperOption._get_number_range_help_str = _option_range  # type: ignore[method-assign]
    if all(hasattr(TyperArgument, name) for name in ("_usage_display_name", "_rich_display_name")):
        # an argument's name is its metavar, upper case as in usage lines and error hints
        TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[method-assign,assignment]
        TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
        TyperArgument._rich_display_name = _argument_rich_name  # type: ignore[method-assign]
        TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
        TyperArgument._get_number_range_help_str = lambda self: describe_range(self.min, self.max)  # type: ignore[method-assign]
