"""A dashboard variable's value written into a query, as Grafana's Prometheus data source writes it.

Grafana's templateSrv hands every value to the data source's `interpolateQueryExpr`
(public/app/plugins/datasource/prometheus/datasource.ts): a variable that is neither
multi-value nor include-all is used as it is; otherwise each value is regex-escaped
(`prometheusSpecialRegexEscape`) and several are joined as `(a|b|c)` (one alone stands
bare). "All" is the variable's `allValue` verbatim when it has one, else every option.
`${var:format}` picks another of Grafana's formats (regex, pipe, csv, raw, glob, json,
queryparam, singlequote, doublequote, sqlstring, percentencode, text): see
grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/.

Then ditsops' own rule (DESIGN "Templates substitute values, never syntax"): what Grafana
would write is escaped for the quote it stands in; outside quotes only a number, a
duration, a name or nothing may stand, anything else is refused with the variable's name.
Grafana's double backslashes (`a\\\\.b`) are exactly a single regex backslash escaped for
its string, which is what this gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote as url_quote

from ditsops.base.errors import UsageError
from ditsops.core.promql import _quoted_spans, escape_string

ALL = "$__all"
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]")
_BARE = re.compile(r"^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|(?:\d+(?:ms|s|m|h|d|w|y))+|[A-Za-z_:][A-Za-z0-9_:]*|)$")
_REGEX_SPECIAL = re.compile(r"[\\$^*{}\[\]+?.()|]")


@dataclass(frozen=True)
class VarValue:
    """A resolved variable: its selected values, and how Grafana formats them."""

    values: tuple[str, ...]
    multi: bool = False  # multi-value or include-all: regex-escaped, joined (a|b)
    all_value: str | None = None  # "All" chosen and allValue set: used verbatim
    text: str = ""

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.all_value is not None:
            return self.all_value
        return " + ".join(self.values) if len(self.values) > 1 else (self.values[0] if self.values else "")

    @property
    def single(self) -> str:
        return self.values[0] if self.values else ""


Value = str | VarValue


def regex_escape(value: str) -> str:
    """Grafana's regex escape of one value (a backslash before each regex metacharacter)."""
    return _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def formatted(value: Value, fmt: str | None, name: str = "") -> str:
    """`value` as Grafana's templateSrv writes it for the Prometheus data source with `fmt`."""
    if isinstance(value, str):
        value = VarValue((value,))
    if value.all_value is not None and fmt not in ("text", "percentencode", "queryparam"):
        return value.all_value  # a custom all value skips formatting (templateSrv)
    values = list(value.values)
    if fmt is None:
        if not value.multi:
            return values[0] if values else ""
        fmt = "regex"
    if fmt == "regex":
        escaped = [regex_escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt in ("csv", "raw", "text", "distributed"):
        return ",".join(values) if fmt != "text" else str(value)
    if fmt == "glob":
        return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"
    if fmt == "json":
        return json.dumps(values[0] if len(values) == 1 else values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt in ("doublequote",):
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt == "percentencode":
        return url_quote(",".join(values) if len(values) > 1 else values[0] if values else "", safe="")
    if fmt == "queryparam":
        return "&".join(f"var-{name}={url_quote(v, safe='')}" for v in values)
    return ",".join(values)  # a format Grafana has and ditsops does not: its values, plainly


def references(text: str) -> set[str]:
    """The variable names `text` refers to ($a, ${a}, ${a:fmt}, [[a]])."""
    return {m.group(1) or m.group(3) or m.group(4) for m in _VARIABLE.finditer(text)}


def substitute(expr: str, values: Mapping[str, Value]) -> str:
    """`expr` with each known variable written as Grafana writes it, then escaped for where it stands."""
    spans = _quoted_spans(expr)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        if name not in values:
            return match.group(0)  # not a variable of this dashboard: Prometheus will say so
        fmt = match.group(2) or match.group(5)
        value = formatted(values[name], fmt, name)
        quote = next((q for a, b, q in spans if a < match.start() and match.end() <= b), "")
        if quote in ('"', "'"):
            return escape_string(value, quote)
        if quote == "`":
            if "`" in value:
                raise UsageError(f"variable {name}: a value with a backtick cannot stand in a `...` string")
            return value
        if not _BARE.match(value):
            raise UsageError(
                f"variable {name}: {value!r} may not stand outside quotes in PromQL "
                "(only a number, a duration or a name may); refused"
            )
        return value

    return _VARIABLE.sub(replace, expr)


def plain(text: str, values: Mapping[str, Value], default: str | None = None) -> str:
    """A title or legend with its variables as Grafana shows them there (their text, unescaped);
    with `default`, each value in that format unless the reference names its own."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        if name not in values:
            return match.group(0)
        value = values[name]
        fmt = match.group(2) or match.group(5) or default
        return formatted(value, fmt, name) if fmt else str(value)

    return _VARIABLE.sub(replace, text)
