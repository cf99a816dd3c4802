"""Global options anywhere on the line, as kubectl takes its global flags.

Click only reads the root's options (`--profile`, `--config`, `--context`, `-n`, `--dsn`,
`--confirm-target`, ...) before the subcommand, so `ditsops k8s undo dits-server
--confirm-target dits-server`, the line the production refusal asks for, was `No such
option`. `hoist` moves a root option given after the subcommand in front of it, unless
the command it follows defines an option of that name itself (`db activity --dsn`,
`-o` everywhere: those stay where they are and mean what the command says). Words after
`--`, the value of an option the command takes, and an option missing its value (click
then says so) are never moved. An option a group on the way defines too (`k8s -n`) goes
after that group's own options, so the last one given wins, as in kubectl.
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


def _leaf(root: Any, ctx: typer.Context, words: list[str], start: int) -> tuple[Any, int, list[tuple[Any, int]]] | None:
    """The command the words from `start` name (through groups), where its words begin, and
    the groups on the way with the index of the word after their own options."""
    command, index = root.get_command(ctx, words[start]), start + 1
    groups: list[tuple[Any, int]] = []
    while command is not None and hasattr(command, "get_command"):
        found = _skip_options(words, index, _options(command))
        if found is None or found >= len(words):
            return command, index, groups
        groups.append((command, found))  # its options end where its subcommand's name is
        sub = command.get_command(ctx, words[found])
        if sub is None:
            # `ditsops runbook NAME ...` is `ditsops runbook run NAME ...` (cli/runbook.py)
            run = command.get_command(ctx, "run") if "run" in getattr(command, "commands", {}) else None
            return (run, found, groups) if run is not None else (command, found, groups)
        command, index = sub, found + 1
    return (command, index, groups) if command is not None else None


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
    leaf, begin, groups = found
    own = _options(leaf)
    # An option a group on the way defines too (`k8s -n`) goes after that group's own
    # options, where it overrides an earlier one as the last given wins in kubectl;
    # any other goes in front of the subcommand, to the root.
    moved: dict[int, list[str]] = {}
    kept: list[tuple[int, str]] = list(enumerate(args[:begin]))
    index = begin
    while index < len(args):
        word = args[index]
        if word == "--":
            kept.extend((i, w) for i, w in enumerate(args[index:], index))
            break
        name, has_value = word.split("=", 1)[0], "=" in word
        width = 1
        if word.startswith("-") and name in own:
            width = 2 if own[name] and not has_value else 1
            kept.extend((i, w) for i, w in enumerate(args[index : index + width], index))
        elif (
            word.startswith("-")
            and name in globals_
            and not (globals_[name] and not has_value and index + 1 == len(args))
        ):
            width = 2 if globals_[name] and not has_value else 1
            at = next((after for group, after in reversed(groups) if name in _options(group)), start)
            moved.setdefault(at, []).extend(args[index : index + width])
        else:
            kept.append((index, word))
        index += width
    if not moved:
        return args
    out: list[str] = []
    for position, word in kept:
        out.extend(moved.pop(position, []))
        out.append(word)
    for rest in moved.values():  # a group name at the very end: nothing followed it
        out.extend(rest)
    return out
