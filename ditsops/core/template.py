"""`{{ name }}` placeholders. Substitution only — no expressions, filters or code.

Where a value ends up decides how it is inserted: SQL gets bound parameters (and shows
them listed beside the query, never spliced into it), display text gets the value as
typed, PromQL gets values escaped for the string they stand in (core/promql.py), silence
matchers get them in the value slot of a matcher parsed beforehand (core/matchers.py).
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

    Literal % is doubled, so that psycopg does not read it as a placeholder: the query is
    always sent with a parameter mapping (empty when it has no placeholders), so psycopg
    always turns %% back into %.
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


# -- SQL: where a placeholder may stand, and how a bound query is shown -----------------

_SQL_CONTEXTS = {
    "'": "an SQL string literal",
    '"': "a quoted SQL identifier",
    "$": "a dollar-quoted SQL string",
    "--": "an SQL comment",
    "/*": "an SQL comment",
}
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _sql_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, context) of string literals, quoted identifiers, dollar quotes and
    comments, as PostgreSQL's lexer reads them ('' and E'\\'' escapes, nested /* */)."""
    spans: list[tuple[int, int, str]] = []
    index, size = 0, len(text)
    while index < size:
        char, pair = text[index], text[index : index + 2]
        start = index
        if pair == "--":  # PostgreSQL ends a -- comment at CR as well as LF
            ends = [end for end in (text.find("\n", index), text.find("\r", index)) if end >= 0]
            index = min(ends) if ends else size
            spans.append((start, index, "--"))
            continue
        if pair == "/*":
            depth, index = 1, index + 2
            while index < size and depth:
                if text.startswith("/*", index):
                    depth, index = depth + 1, index + 2
                elif text.startswith("*/", index):
                    depth, index = depth - 1, index + 2
                else:
                    index += 1
            spans.append((start, index, "/*"))
            continue
        if char in "'\"":
            backslashes = (
                char == "'"
                and index > 0
                and text[index - 1] in "eE"
                and (index < 2 or not (text[index - 2].isalnum() or text[index - 2] == "_"))
            )
            index += 1
            while index < size:
                if backslashes and text[index] == "\\":
                    index += 2
                    continue
                if text[index] == char:
                    if text[index + 1 : index + 2] == char:  # '' or "" stands for the quote itself
                        index += 2
                        continue
                    break
                index += 1
            index += 1
            spans.append((start, min(index, size), char))
            continue
        if char == "$" and not (index and (text[index - 1].isalnum() or text[index - 1] == "_")):
            tag = _DOLLAR_TAG.match(text, index)
            if tag:
                end = text.find(tag.group(0), tag.end())
                index = size if end < 0 else end + len(tag.group(0))
                spans.append((start, index, "$"))
                continue
        index += 1
    return spans


def sql_placeholder_problems(text: str) -> list[str]:
    """Placeholders standing where no value can be bound: inside a string literal, a quoted
    identifier, a dollar quote or a comment. There they would be sent as their own text
    (or fail to bind), never as the value, so the loader refuses them."""
    spans = _sql_spans(text)
    problems = []
    for match in PLACEHOLDER.finditer(text):
        inside = next((kind for start, end, kind in spans if start < match.start() < end), None)
        name = match.group(1)
        if text[match.start() - 1 : match.start()] == "$" or text[match.end() : match.end() + 1] == "$":
            # Sent as $n, a placeholder beside a `$` forms a dollar quote ($$1$) or a longer name.
            problems.append(
                f"{{{{ {name} }}}} stands right beside a '$', which the server would read together with "
                "the bound parameter (a dollar quote); put a space between them"
            )
            continue
        if inside:
            problems.append(
                f"{{{{ {name} }}}} stands inside {_SQL_CONTEXTS[inside]}, where it cannot be bound as a value; "
                f"write it bare, as an SQL value: ... = {{{{ {name} }}}} (it is sent as a bound parameter, "
                "quoting included)"
            )
    return problems


def sql_literal(value: Any) -> str:
    """A bound value as an SQL literal, for showing only (it is never spliced into a query)."""
    from datetime import timedelta

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, timedelta):
        return f"interval '{value.total_seconds():g} seconds'"
    text = str(value)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        # A newline shown raw would end the comment line and look like query text.
        return "E'" + "".join(_escaped_char(c) for c in text) + "'"
    return "'" + text.replace("'", "''") + "'"


def _escaped_char(char: str) -> str:
    if char == "'":
        return "''"
    if char == "\\":
        return "\\\\"
    if ord(char) < 32 or ord(char) == 127:
        return f"\\x{ord(char):02x}"
    return char


def shown_sql(text: str, params: dict[str, Any]) -> str:
    """The query as written, placeholders and all, with the values bound to them listed
    beside it: what is sent is the text plus parameters, so that is what is shown."""
    names = list(dict.fromkeys(PLACEHOLDER.findall(text)))
    if not names:
        return text
    listed = ", ".join(f"{name} = {sql_literal(params.get(name))}" for name in names)
    return f"{text}\n-- parameters: {listed}"
