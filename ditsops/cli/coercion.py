"""Option values converted without a validation library.

Typer (0.2x) converts each option's value through a pydantic TypeAdapter that it builds the
first time the option is processed, even for a plain `--profile NAME`, a flag, or an option
left at its default. Importing pydantic for that costs more than everything else `ditsops
runbook list` does. The types ditsops' options are made of (text, flags, lists of text,
paths, a choice) need no validation library: `install` has typer build, for parameters of
those types, a converter written in plain Python that converts as typer's does and words
its errors as typer shows pydantic's ("Value error, 'xml' is not one of 'table', 'json'.").
Parameters of any other type (numbers, dates, own parsers) keep typer's converter, pydantic
and all, when they are used.

It wraps typer's private `typer.core.build_runtime_param` (called once per parameter, on
first use); with a typer that has none, `install` does nothing and typer converts as it
always did.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

try:  # typer's private conversion layer; absent in typer versions that do not use pydantic
    import typer.core
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._click.utils import _escape_control_characters
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_choice, coerce_cli_path, routes_to_path
    from typer._typing import is_literal_type, literal_values
except ImportError:  # pragma: no cover - another typer: leave its conversion alone
    RuntimeParam = None  # type: ignore[assignment,misc]

Convert = Callable[[Any, Any, Any], Any]  # (value, param, ctx) -> converted value


def install() -> None:
    """From now on typer converts text, flags, lists of text, paths and choices in plain Python."""
    typers_own = getattr(typer.core, "build_runtime_param", None) if RuntimeParam is not None else None
    if typers_own is None or getattr(typers_own, "plain_values", False):
        return

    def build_runtime_param(descriptor: Any) -> Any:
        convert = _converter(descriptor)
        if convert is None:
            return typers_own(descriptor)
        try:
            return _PlainParam(descriptor.parameter_info, descriptor.annotation, convert)
        except TypeError:  # a typer whose RuntimeParam takes other fields: its own conversion
            return typers_own(descriptor)

    build_runtime_param.plain_values = True  # type: ignore[attr-defined]
    build_runtime_param.typers_own = typers_own  # type: ignore[attr-defined]  # tests compare the two
    typer.core.build_runtime_param = build_runtime_param


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainParam(RuntimeParam):
        convert: Convert

        def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
            try:
                return self.convert(value, param, ctx)
            except ValueError as error:  # as pydantic words a validator's ValueError, which typer shows
                raise BadParameter(_escape_control_characters(f"Value error, {error}"), ctx=ctx, param=param) from None


def _converter(descriptor: Any) -> Convert | None:
    info, annotation = descriptor.parameter_info, descriptor.annotation
    if descriptor.file_annotation is not None or info.parser is not None:
        return None
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        leaf = _leaf(item, info)
        if leaf is None:
            return None
        return lambda value, param, ctx: [
            leaf(one, param, ctx) for one in (value if isinstance(value, (list, tuple)) else [value])
        ]
    return _leaf(annotation, info)


def _leaf(annotation: Any, info: Any) -> Convert | None:
    if annotation is str:
        return lambda value, param, ctx: _text(value)
    if annotation is bool:
        return _flag
    choices: tuple[Any, ...] | None = None
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = tuple(annotation)
    elif is_literal_type(annotation):
        choices = tuple(literal_values(annotation))
    if choices is not None:
        chosen = choices
        return lambda value, param, ctx: coerce_cli_choice(
            value, choices=chosen, case_sensitive=info.case_sensitive, ctx=ctx
        )
    if isinstance(annotation, type) and issubclass(annotation, Path) and routes_to_path(annotation, info):
        path_type = info.path_type or annotation
        if not (isinstance(path_type, type) and issubclass(path_type, Path)):
            return None
        return lambda value, param, ctx: coerce_cli_path(
            path_type(value) if isinstance(value, str | os.PathLike) else value,
            info,
            path_type=path_type,
            param=param,
            ctx=ctx,
        )
    return None


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _flag(value: Any, param: Any, ctx: Any) -> bool:
    """A flag's value (from the command line, a default or an environment variable) as
    pydantic's lax bool reads it: yes/no, on/off, true/false, 1/0, t/f, y/n; empty is false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "" or word in _FALSE:
            return False
        if word in _TRUE:
            return True
    elif isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise BadParameter("Input should be a valid boolean, unable to interpret input", ctx=ctx, param=param)


def _text(value: Any) -> str:
    """An argument as text, as typer's own str conversion does (bytes decoded as argv is)."""
    if isinstance(value, bytes):
        for encoding in (sys.getfilesystemencoding(), "utf-8"):
            try:
                return value.decode(encoding)
            except UnicodeError:
                continue
        return value.decode("utf-8", "replace")
    return str(value)
