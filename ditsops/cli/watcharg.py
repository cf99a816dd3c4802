"""`--watch [INTERVAL]`: the interval as an optional value of --watch.

Click has no option whose value may be left out (typer drops `is_flag=False,
flag_value=…`), so the live views declare a `--watch` flag and an `--interval` option, and
the command line is read as engineers type it: `--watch`, `--watch 5s`, `--watch=5s`, `-w
500ms`. The word after --watch is its interval only when it reads as one (`5s`, `1m30s`,
`500ms`, `2`); anything else (`dash --watch overview`) stays where it was. Pure and tiny:
it runs on every command line, before any command is imported.
"""

from __future__ import annotations

import re

WATCH_FLAGS = frozenset({"--watch", "-w"})
_INTERVAL = re.compile(r"(?:\d+(?:ms|s|m|h|d))+|\d+(?:\.\d+)?")


def looks_like_interval(word: str) -> bool:
    return _INTERVAL.fullmatch(word) is not None


def spell_out_watch_interval(args: list[str]) -> list[str]:
    """`--watch 5s` and `--watch=5s` as `--watch --interval 5s`; everything else as given.
    Words after `--` are arguments, never options, and are left alone."""
    out: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            out.extend(args[index:])
            break
        if word.startswith("--watch="):
            out += ["--watch", "--interval", word.partition("=")[2]]
        elif word in WATCH_FLAGS and index + 1 < len(args) and looks_like_interval(args[index + 1]):
            out += ["--watch", "--interval", args[index + 1]]
            index += 1
        else:
            out.append(word)
        index += 1
    return out
