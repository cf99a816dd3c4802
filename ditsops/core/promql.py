"""Parameters into PromQL, safely; and vectors reduced to what an engineer needs to see.

A placeholder may stand inside a quoted string ("…", '…' or `…`: a label matcher's value),
where its value is escaped for that quote: inside "…" backslash and double quote are
escaped, inside '…' backslash and single quote, and inside a backtick string nothing can
be escaped, so a value containing a backtick is refused. Anywhere else only a validated
duration or number may stand: a string there could change the query's structure, so the
loader refuses it.
"""

from __future__ import annotations

import re
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.core.params import ParamSpec, display
from ditsops.core.template import PLACEHOLDER

BARE_TYPES = ("duration", "integer", "number")
_SPARKS = "▁▂▃▄▅▆▇█"
_BARE_VALUE = re.compile(r"^[0-9A-Za-z.+-]+\Z")  # a number or a duration such as 1h30m


class PlaceholderRefused(DitsopsError):
    """A parameter's value cannot stand where its placeholder is without changing the query."""


def _quoted_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, quote) of "…", '…' and `…` strings, honouring backslash escapes
    (not in backtick strings, which have none) and skipping # comments."""
    spans: list[tuple[int, int, str]] = []
    index, quote, start = 0, "", 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                spans.append((start, index, quote))
                quote = ""
        elif char == "#":
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        elif char in "\"'`":
            quote, start = char, index
        index += 1
    return spans


def _quote_at(spans: list[tuple[int, int, str]], match: re.Match[str]) -> str:
    """The quote of the string the placeholder stands wholly inside, or ''."""
    return next((q for a, b, q in spans if a < match.start() and match.end() <= b), "")


def placeholders(text: str) -> list[tuple[str, str]]:
    """(name, quote it stands inside: '"', "'", "`" or '' for none) for each placeholder."""
    spans = _quoted_spans(text)
    return [(m.group(1), _quote_at(spans, m)) for m in PLACEHOLDER.finditer(text)]


def check(text: str, params: dict[str, ParamSpec]) -> list[str]:
    problems = []
    for name, quote in placeholders(text):
        spec = params.get(name)
        if spec is None:
            continue
        if not quote and spec.type not in BARE_TYPES:
            problems.append(
                f"{{{{ {name} }}}} is a {spec.type} outside quotes in PromQL; only {', '.join(BARE_TYPES)} "
                'may stand there (put it in a label matcher: label="{{ ' + name + ' }}")'
            )
        elif quote == "`" and spec.default is not None and "`" in display(spec.default):
            problems.append(_backtick_problem(name))
    return problems


def _backtick_problem(name: str) -> str:
    return (
        f"parameter '{name}': its value contains a backtick, which cannot be escaped inside a PromQL `…` "
        'string; refused (use "{{ ' + name + ' }}" to allow any text)'
    )


def escape_string(value: str, quote: str = '"') -> str:
    """value as the content of a PromQL string in `quote` ('"' or "'"): the backslash, that
    quote and control characters escaped; the other quote stays as it is (escaping it would
    be an unknown escape sequence to Prometheus)."""
    out = []
    for char in value:
        if char == "\\" or char == quote:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def fill(text: str, params: dict[str, Any], *, strict: bool = True) -> str:
    """The query with each value escaped for where it stands. A value that cannot stand
    there raises PlaceholderRefused naming the parameter; with strict=False (for showing
    the query before it runs) the placeholder is kept as written instead."""
    spans = _quoted_spans(text)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = display(params[name])
        quote = _quote_at(spans, match)
        if quote in ('"', "'"):
            return escape_string(value, quote)
        if quote == "`":
            if "`" in value:
                if strict:
                    raise PlaceholderRefused(_backtick_problem(name))
                return match.group(0)
            return value
        if isinstance(params[name], str) or not _BARE_VALUE.match(value):
            if strict:
                raise PlaceholderRefused(
                    f"parameter '{name}': {value!r} may not stand outside quotes in PromQL "
                    "(only a duration or a number may); refused"
                )
            return match.group(0)
        return value

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
