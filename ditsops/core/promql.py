"""Parameters into PromQL, safely; and vectors reduced to what an engineer needs to see.

A placeholder inside a quoted string (a label matcher's value) is escaped as PromQL
string content. Anywhere else only a validated duration or number may stand: a string
there could change the query's structure, so the loader refuses it.
"""

from __future__ import annotations

import re
from typing import Any

from ditsops.core.params import ParamSpec, display
from ditsops.core.template import PLACEHOLDER

BARE_TYPES = ("duration", "integer", "number")
_SPARKS = "▁▂▃▄▅▆▇█"


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges inside "…", '…' or `…` strings, honouring backslash escapes."""
    spans, index, quote, start = [], 0, None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                spans.append((start, index))
                quote = None
        elif char in "\"'`":
            quote, start = char, index
        index += 1
    return spans


def placeholders(text: str) -> list[tuple[str, bool]]:
    """(name, inside a string) for each placeholder."""
    spans = _quoted_spans(text)
    return [(m.group(1), any(a < m.start() < b for a, b in spans)) for m in PLACEHOLDER.finditer(text)]


def check(text: str, params: dict[str, ParamSpec]) -> list[str]:
    problems = []
    for name, quoted in placeholders(text):
        spec = params.get(name)
        if spec and not quoted and spec.type not in BARE_TYPES:
            problems.append(
                f"{{{{ {name} }}}} is a {spec.type} outside quotes in PromQL; only {', '.join(BARE_TYPES)} "
                'may stand there (put it in a label matcher: label="{{ ' + name + ' }}")'
            )
    return problems


def escape_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'").replace("\n", "\\n")


def fill(text: str, params: dict[str, Any]) -> str:
    spans = _quoted_spans(text)

    def substitute(match: re.Match[str]) -> str:
        value = params[match.group(1)]
        inside = any(a < match.start() < b for a, b in spans)
        return escape_string(display(value)) if inside else display(value)

    return PLACEHOLDER.sub(substitute, text)


def sparkline(values: list[float]) -> str:
    finite = [v for v in values if v == v and v not in (float("inf"), float("-inf"))]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    return "".join(
        _SPARKS[min(int((v - low) / span * (len(_SPARKS) - 1) + 0.5), len(_SPARKS) - 1)] if v in finite else " "
        for v in values
    )


def varying_labels(label_sets: list[dict[str, str]]) -> list[str]:
    """Labels whose values differ between series (the ones worth a column), name first."""
    keys = sorted({k for labels in label_sets for k in labels})
    varying = [k for k in keys if len({labels.get(k) for labels in label_sets}) > 1]
    if not varying and len(label_sets) == 1:
        varying = [k for k in keys if k != "__name__"]
    return (["__name__"] if "__name__" in varying else []) + [k for k in varying if k != "__name__"]
