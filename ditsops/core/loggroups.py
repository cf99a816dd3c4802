"""Log lines grouped by what they say: fifty ERROR lines that are four messages read as four.

A line's varying parts — timestamps, UUIDs, hex ids, IP addresses, numbers — are masked
to find its group. A part that is the same in every line of a group is shown as it is
(`index is 4`, `version=1.5.0`); only the parts that differ stay masked (`request_id=<hex>`).
The time of a line is the kubelet's (timestamps=true), else the line's own leading
timestamp; lines with neither are placed by the order they were read in. A leading
timestamp is never part of the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ditsops.core.results import LogGroup

_TIME = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_LEADING_TIME = re.compile(rf"^\s*\[?({_TIME})\]?\s*")
_VARYING = re.compile(
    rf"(?P<time>{_TIME})"
    r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b)"
    r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b)"
    r"|(?P<n>(?<![\w.])-?\d+(?:\.\d+)*(?:ms|us|µs|ns|s|m|h|%|[KMGT]i?B|B)?(?![\w.]))"
)


@dataclass
class _Building:
    literals: list[str]  # the text around the masked parts (the same in every line of the group)
    kinds: list[str]  # what each masked part is: n, hex, uuid, ip, time
    parts: list[list[str]]  # per masked position: its value in each line
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    last_order: int = 0
    pods: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    example: str = ""


def split_time(line: str) -> tuple[datetime | None, str]:
    """The line's leading timestamp (None when it has none) and the rest of the line."""
    match = _LEADING_TIME.match(line)
    if not match:
        return None, line
    stamp = match.group(1).replace(",", ".").replace(" ", "T")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None, line
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), line[match.end() :]


def mask(message: str) -> tuple[str, list[str], list[tuple[str, str]]]:
    """The message with its varying parts replaced by `<kind>`; the literal text around
    them; and (kind, text) of each part."""
    literals: list[str] = []
    found: list[tuple[str, str]] = []
    start = 0
    for match in _VARYING.finditer(message):
        literals.append(message[start : match.start()])
        found.append((match.lastgroup or "n", match.group(0)))
        start = match.end()
    literals.append(message[start:])
    template = literals[0] + "".join(f"<{kind}>{after}" for (kind, _), after in zip(found, literals[1:], strict=True))
    return template, literals, found


def group_lines(lines: Iterable[tuple[str, str, str]]) -> list[LogGroup]:
    """(pod, line, time) as groups, newest group first (by the last line seen). `time` is
    the kubelet's RFC 3339 time of the line ("" when it gave none); without it the line's
    own leading timestamp counts."""
    # Keyed by the literal text and the kinds between, not the template: a line may hold
    # "<n>" itself ("GET /api/<n>"), which would read like a masked part.
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], _Building] = {}
    for order, (pod, line, stamp) in enumerate(lines):
        own, message = split_time(line)
        given, _ = split_time(stamp) if stamp else (None, "")
        when = given or own
        _, literals, parts = mask(message.strip())
        key = (tuple(literals), tuple(kind for kind, _ in parts))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Building(literals, [k for k, _ in parts], [[] for _ in parts])
        for values, (_, text) in zip(group.parts, parts, strict=True):
            values.append(text)
        group.count += 1
        group.pods[pod] = None
        if when is not None:
            group.first = when if group.first is None else min(group.first, when)
            if group.last is None or when >= group.last:
                group.last, group.example = when, message.strip()
        elif group.last is None:
            group.example = message.strip()
        group.last_order = order
    ordered = sorted(groups.values(), key=_recency, reverse=True)
    return [
        LogGroup(
            message=_shown(g),
            count=g.count,
            first_seen=g.first,
            last_seen=g.last,
            pods=tuple(g.pods),
            example=g.example,
        )
        for g in ordered
    ]


def _recency(group: _Building) -> tuple[float, int]:
    """Newest first: by the last timestamp seen, else by where the last line was read."""
    stamp = group.last.timestamp() if group.last is not None else float("-inf")
    return stamp, group.last_order


def _shown(group: _Building) -> str:
    """The group's message: a masked part with one value across the whole group is shown
    as it is; one that differs stays `<kind>`."""
    shown = [group.literals[0]]
    for kind, values, after in zip(group.kinds, group.parts, group.literals[1:], strict=True):
        shown.append(values[0] if len(set(values)) == 1 else f"<{kind}>")
        shown.append(after)
    return "".join(shown)


def group_data(group: LogGroup) -> dict[str, object]:
    """A group as JSON for --output json and the run record."""
    return {
        "message": group.message,
        "count": group.count,
        "first_seen": group.first_seen.isoformat() if group.first_seen else None,
        "last_seen": group.last_seen.isoformat() if group.last_seen else None,
        "pods": list(group.pods),
        "example": group.example,
    }
