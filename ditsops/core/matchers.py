"""Silence matchers from templates: parsed first, then values fill the value slot only.

`instance={{ instance }}` is parsed as it is written — an equality matcher on `instance`
whose value is the parameter — before any value is known, so no value can turn it into
another matcher: `--set 'instance=~.*'` gives the equality matcher `instance="=~.*"`, not
the regex `.*`. In a regex matcher (`=~`, `!~`) a value stands for itself (its regex
characters escaped, as Go's regexp.QuoteMeta does); only the runbook's own text is regex.
A placeholder in a matcher's name or operator is refused when the runbook loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditsops.clients.alertmanager import unescape_value
from ditsops.core.params import display
from ditsops.core.template import PLACEHOLDER

if TYPE_CHECKING:
    from ditsops.clients.alertmanager import Matcher

_SHAPE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_REGEX_SPECIAL = set(r"\.+*?()|[]{}^$")  # what Go's regexp.QuoteMeta escapes


class MatcherSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class MatcherTemplate:
    name: str
    is_regex: bool
    is_equal: bool
    parts: tuple[tuple[str, bool], ...]  # (literal text, False) or (parameter name, True)

    @classmethod
    def parse(cls, text: str) -> MatcherTemplate:
        """`name=value`, `name!=value`, `name=~regex`, `name!~regex` (amtool's syntax); the
        value is read as amtool reads it (clients/alertmanager.unescape_value) and may hold
        placeholders."""
        shape = _SHAPE.match(text)
        placeholders = list(PLACEHOLDER.finditer(text))
        if not shape or any(m.start() < shape.start(3) for m in placeholders):
            if placeholders:
                raise MatcherSyntaxError(
                    f"matcher {text!r}: a placeholder may stand only in a matcher's value "
                    '(name="{{ param }}"), never in its name or operator'
                )
            raise MatcherSyntaxError(f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
        name, op, value = shape.groups()
        # Placeholders become single private-use characters while the value is read with
        # amtool's rules (quotes, \\n, \\", \\\\), so an escape never reaches into one.
        names = [m.group(1) for m in PLACEHOLDER.finditer(value)]
        if any(_SENTINEL <= ord(ch) < _SENTINEL + 256 for ch in value) or len(names) > 255:
            raise MatcherSyntaxError(f"matcher {text!r}: characters U+E000..U+E0FF are not allowed in a value")
        marked = PLACEHOLDER.sub(_Marker(), value)
        try:
            read = unescape_value(marked)
        except ValueError as error:
            raise MatcherSyntaxError(f"matcher {text!r}: {error}") from None
        parts: list[tuple[str, bool]] = []
        literal: list[str] = []
        for ch in read:
            if _SENTINEL <= ord(ch) < _SENTINEL + 256:
                parts.append(("".join(literal), False))
                parts.append((names[ord(ch) - _SENTINEL], True))
                literal = []
            else:
                literal.append(ch)
        parts.append(("".join(literal), False))
        return cls(name, "~" in op, not op.startswith("!"), tuple(p for p in parts if p[1] or p[0]))

    @property
    def references(self) -> set[str]:
        return {text for text, is_param in self.parts if is_param}

    def fill(self, params: dict[str, Any]) -> Matcher:
        from ditsops.clients.alertmanager import Matcher

        value = "".join(
            (quote_meta(display(params[text])) if self.is_regex else display(params[text])) if is_param else text
            for text, is_param in self.parts
        )
        return Matcher(self.name, value, is_regex=self.is_regex, is_equal=self.is_equal)


_SENTINEL = 0xE000  # private-use characters stand for placeholders while a value is read


class _Marker:
    """re.sub callback: the n-th placeholder becomes the character U+E000 + n."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, match: re.Match[str]) -> str:
        self.count += 1
        return chr(_SENTINEL + self.count - 1)


def quote_meta(value: str) -> str:
    """value as an RE2 regex matching exactly itself (Go's regexp.QuoteMeta)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in value)


def matcher_text(matcher: Matcher) -> str:
    """A matcher as Alertmanager and amtool parse it back: the value always in double
    quotes, backslash, double quote and newline escaped."""
    op = ("=" if matcher.is_equal else "!") + ("~" if matcher.is_regex else "")
    if op == "!":
        op = "!="
    value = matcher.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{matcher.name}{op}"{value}"'
