"""A log step's lines, grouped by message: how often, when, where, and the message whole.

    38×  13:55:10 → 13:55:33  2 pods: dits-server-84559f59db-q7rr9, dits-server-84559f59db-9b6nv
         ERROR dits_server::api: POST /api/v1/repos/:id/commits -> 500 Internal Server
         Error: panicked at 'called `Option::unwrap()` on a `None` value' request_id=<hex>

The message is the cause an engineer reads the logs for, so it is never cut: it wraps
under its header line. Pod names are identifiers to copy, printed whole.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.text import Text

from ditsops.core.results import LogGroup
from ditsops.render.cells import MAX_CELL, cut, printable

SHOWN = 10  # groups shown on a walk; --full shows every one
PODS_NAMED = 3  # pod names listed per group before "+N more"
INDENT = 5


def render_log_groups(console: Console, groups: Sequence[LogGroup], *, full: bool = False) -> None:
    shown = groups if full else groups[:SHOWN]
    width = max((len(f"{g.count}×") for g in shown), default=2)
    for group in shown:
        head = Text()
        head.append(f"{group.count}×".rjust(width), style="title")
        span = _span(group.first_seen, group.last_seen)
        if span:
            head.append(f"  {span}", style="muted")
        head.append(f"  {_pods(group.pods)}", style="muted")
        console.print(head, soft_wrap=True)  # pod names whole, even past the edge
        indent = " " * min(INDENT, width + 2)
        message = group.message if full else cut(group.message, MAX_CELL)  # a 10 MB line: cut, --full whole
        for line in _wrapped(printable(message), console.width - len(indent)):
            console.print(Text(indent + line), soft_wrap=True)
    hidden = groups[len(shown) :]
    if hidden:
        lines = sum(g.count for g in hidden)
        console.print(
            f"[muted]… {len(hidden)} more message{'s' if len(hidden) != 1 else ''} ({lines} lines); "
            "--full or --output json shows them[/]"
        )


def _wrapped(message: str, width: int) -> list[str]:
    """The message folded at spaces (long words split), every character kept, no padding."""
    return textwrap.wrap(message, max(width, 20), break_on_hyphens=False, drop_whitespace=True) or [""]


def _span(first: datetime | None, last: datetime | None) -> str:
    if first is None or last is None:
        return ""
    start, end = _clock(first), _clock(last)
    return start if start == end else f"{start} → {end}"


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def _pods(pods: Sequence[str]) -> str:
    if len(pods) == 1:
        return f"pod {pods[0]}"
    named = ", ".join(pods[:PODS_NAMED])
    more = f" +{len(pods) - PODS_NAMED} more" if len(pods) > PODS_NAMED else ""
    return f"{len(pods)} pods: {named}{more}"
