"""`{{ name }}` placeholders. Substitution only — no expressions, filters or code.

Where a value ends up decides how it is inserted: SQL gets bound parameters, display
text gets the value as typed, PromQL (later) gets escaped label values or durations.
"""

from __future__ import annotations

import re
from typing import Any

from ditsops.core.params import display

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_STRAY = re.compile(r"\{\{|\}\}")


def references(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def malformed(text: str) -> bool:
    """True when braces remain after removing well-formed placeholders ({{ 1x }}, {{ a.b }})."""
    return bool(_STRAY.search(PLACEHOLDER.sub("", text)))


def render_text(text: str, params: dict[str, Any]) -> str:
    """Text with placeholders replaced by the values as an engineer would type them."""
    return PLACEHOLDER.sub(lambda m: display(params[m.group(1)]), text)


def to_bound_sql(text: str) -> tuple[str, list[str]]:
    """SQL with each placeholder turned into a psycopg named parameter.

    Literal % must be doubled once the query has parameters, so that psycopg does not
    read them as placeholders.
    """
    names: list[str] = []

    def bind(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"%({match.group(1)})s"

    escaped = text.replace("%", "%%")
    return PLACEHOLDER.sub(bind, escaped), names


def resolve(value: Any, params: dict[str, Any]) -> Any:
    """A field value with placeholders filled: a lone placeholder keeps the typed value."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return params[whole.group(1)]
        return render_text(value, params)
    if isinstance(value, list):
        return [resolve(item, params) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, params) for key, item in value.items()}
    return value


def references_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return references(value)
    if isinstance(value, list):
        return set().union(*(references_in(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(references_in(v) for v in value.values())) if value else set()
    return set()
