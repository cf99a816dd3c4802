"""Global options anywhere on the line, as kubectl takes its global flags.

Click only reads the root's options (`--profile`, `--config`, `--context`, `-n`, `--dsn`,
`--confirm-target`, ...) before the subcommand, so `ditsops k8s undo dits-server
--confirm-target dits-server`, the line the production refusal asks for, was `No such
option`. `hoist` moves a root option given after the subcommand in front of it, unless
the command it follows defines an option of that name itself (`db activity --dsn`,
`-o` everywhere: those stay where they are and mean what the command says). Words after
`--`, and the value of an option the command takes, are never moved.
"""

from __future__ import annotations

from typing import Any

import typer


def _options(command: Any) -> dict[str, bool]:
    """Each option name of `command` -> whether it takes a value."""
    names: dict[str, bool] = {}
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") != "option":
            continue
        takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        for name in (*param.opts, *getattr(param, "secondary_opts", ())):
            names[name] = takes_value
    return names


def _skip_options(words: list[str], start: int, options: dict[str, bool]) -> int | None:
    """Index of the first word from `start` that is not one of `options` (or its value);
    None when an unknown option or `--` comes first (then click has the say)."""
    index = start
    while index < len(words) and words[index].startswith("-"):
        name, has_value = words[index].split("=", 1)[0], "=" in words[index]
        if words[index] == "--" or name not in options:
            return None
        index += 2 if options[name] and not has_value else 1
    return index


def _leaf(root: Any, ctx: typer.Context, words: list[str], start: int) -> tuple[Any, int] | None:
    """The command the words from `start` name (through groups), and where its words begin."""
    command, index = root.get_command(ctx, words[start]), start + 1
    while command is not None and hasattr(command, "get_command"):
        found = _skip_options(words, index, _options(command))
        if found is None or found >= len(words):
            return command, index
        sub = command.get_command(ctx, words[found])
        if sub is None:
            # `ditsops runbook NAME ...` is `ditsops runbook run NAME ...` (cli/runbook.py)
            run = command.get_command(ctx, "run") if "run" in getattr(command, "commands", {}) else None
            return (run, found) if run is not None else (command, found)
        command, index = sub, found + 1
    return (command, index) if command is not None else None


def hoist(root: Any, ctx: typer.Context, args: list[str]) -> list[str]:
    """args with root options given after the subcommand moved before it."""
    if ctx.resilient_parsing or not args:
        return args
    globals_ = _options(root)
    start = _skip_options(args, 0, globals_)
    if start is None or start >= len(args):
        return args
    try:
        found = _leaf(root, ctx, args, start)
    except Exception:  # noqa: BLE001 - a name click will refuse itself, with its own message
        return args
    if found is None:
        return args
    leaf, begin = found
    own = _options(leaf)
    moved: list[str] = []
    kept = args[:begin]
    index = begin
    while index < len(args):
        word = args[index]
        if word == "--":
            kept.extend(args[index:])
            break
        name, has_value = word.split("=", 1)[0], "=" in word
        width = 1
        if word.startswith("-") and name in own:
            width = 2 if own[name] and not has_value else 1
            kept.extend(args[index : index + width])
        elif word.startswith("-") and name in globals_:
            width = 2 if globals_[name] and not has_value else 1
            moved.extend(args[index : index + width])
        else:
            kept.append(word)
        index += width
    if not moved:
        return args
    return [*kept[:start], *moved, *kept[start:]]
