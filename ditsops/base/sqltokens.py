"""PostgreSQL's lexer, as far as the diagnostic guard (base/sqlguard.py) needs it.

Tokens as the server reads them: comments dropped (a `--` comment ends at CR as well as
LF, `/* */` nests), string literals kept as their decoded contents (standard, E'', B'',
X'', N'', U&'' and dollar-quoted), quoted identifiers unquoted, names lower-cased. Only
PostgreSQL's own space characters separate tokens: any other character above ASCII is
part of a name, as it is to the server. Anything it cannot read for sure (an unterminated
literal or comment, a Unicode-escaped identifier, UESCAPE) is an `Unreadable` problem.

It reads the text as sent: `as_sent` turns psycopg's `%(name)s` into the `$n` the server
receives (so `${{ x }}$` is the dollar quote `$$1$` it is to the server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Violation:
    line: int  # 1-based, in the SQL text
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class Token(NamedTuple):
    kind: str  # word (unquoted, lower-cased), ident (quoted, as written), string (its contents), param, ...
    text: str
    line: int


class Unreadable(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.violation = Violation(line, message)


_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_NUMBER = re.compile(r"(?:[0-9][0-9A-Za-z_]*(?:\.[0-9A-Za-z_]*)?|\.[0-9][0-9A-Za-z_]*)")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_POSITIONAL = re.compile(r"\$[0-9]+")
_PSYCOPG = re.compile(r"%\((\w+)\)s")
_OPERATORS = set("+-*/<>=~!@#%^&|`?")
# PostgreSQL's scanner: `space [ \t\n\r\f\v]`, `newline [\n\r]` (a -- comment ends at either).
_SPACE = " \t\n\r\f\v"
# psycopg's named parameters and its %% escape, as they reach the server: $n and %.
_PSYCOPG_FORMAT = re.compile(r"%%|%\((\w+)\)s")


def as_sent(sql: str) -> str:
    """The text the server parses: psycopg turns each `%(name)s` into `$n` and `%%` into `%`."""
    numbers: dict[str, int] = {}

    def convert(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return _PSYCOPG_FORMAT.sub(convert, sql)


def tokens(sql: str) -> list[Token]:
    """SQL as PostgreSQL's scanner sees it, without comments; a literal's token carries its
    contents (escapes decoded where they could hide a name)."""
    found: list[Token] = []
    i, line, n = 0, 1, len(sql)
    while i < n:
        c = sql[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in _SPACE:
            i += 1
        elif sql.startswith("--", i):
            ends = [e for e in (sql.find("\n", i), sql.find("\r", i)) if e >= 0]
            i = min(ends) if ends else n
        elif sql.startswith("/*", i):
            i, line = _comment(sql, i, line)
        elif c == "'":
            start, begun = line, i
            i, line = _string(sql, i, line, escapes=False)
            found.append(Token("string", _contents(sql[begun:i], escapes=False), start))
        elif c == '"':
            start = line
            i, line, name = _quoted_identifier(sql, i, line)
            found.append(Token("ident", name, start))
        elif c == "$":
            positional = _POSITIONAL.match(sql, i)
            dollar = None if positional else _DOLLAR.match(sql, i)
            if positional:
                found.append(Token("param", positional.group(), line))
                i = positional.end()
            elif dollar:
                close = sql.find(dollar.group(), dollar.end())
                if close < 0:
                    raise Unreadable(line, f"unterminated dollar-quoted string {dollar.group()}")
                found.append(Token("string", sql[dollar.end() : close], line))
                line += sql.count("\n", i, close)
                i = close + len(dollar.group())
            else:
                found.append(Token("op", c, line))
                i += 1
        elif c == "%" and (match := _PSYCOPG.match(sql, i)):
            found.append(Token("param", match.group(), line))
            i = match.end()
        elif word_match := _WORD.match(sql, i):
            word = word_match.group()
            after = i + len(word)
            lower = word.lower()
            if lower in ("e", "b", "x", "n") and sql.startswith("'", after):
                start = line
                i, line = _string(sql, after, line, escapes=lower == "e")
                found.append(Token("string", _contents(sql[after:i], escapes=lower == "e"), start))
            elif lower == "u" and sql.startswith("&'", after):
                start = line
                i, line = _string(sql, after + 1, line, escapes=False)
                found.append(Token("string", _unicode_contents(sql[after + 1 : i]), start))
                if re.match(r"\s*uescape\b", sql[i:], re.IGNORECASE):
                    raise Unreadable(
                        line, "UESCAPE (a Unicode string with another escape) is not allowed in a diagnostic"
                    )
            elif lower == "u" and sql.startswith('&"', after):
                raise Unreadable(line, 'a Unicode-escaped identifier (U&"...") is not allowed in a diagnostic')
            else:
                found.append(Token("word", lower, line))
                i = after
        elif (c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit())) and (
            number_match := _NUMBER.match(sql, i)
        ):
            number = number_match.group()
            found.append(Token("number", number, line))
            i += len(number)
        elif c in _OPERATORS:
            found.append(Token("op", c, line))
            i += 1
        else:
            found.append(Token("punct", c, line))
            i += 1
    return found


def _comment(sql: str, i: int, line: int) -> tuple[int, int]:
    """A /* */ comment; PostgreSQL nests them."""
    depth, start = 0, line
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i, line
        else:
            line += sql[i] == "\n"
            i += 1
    raise Unreadable(start, "unterminated /* comment")


def _string(sql: str, i: int, line: int, *, escapes: bool) -> tuple[int, int]:
    """A '...' literal starting at the quote at i; '' is a quote, and \\ escapes in E''."""
    start, i = line, i + 1
    while i < len(sql):
        c = sql[i]
        if escapes and c == "\\":
            line += sql[i + 1 : i + 2] == "\n"
            i += 2
        elif c == "'":
            if sql.startswith("''", i):
                i += 2
            else:
                return i + 1, line
        else:
            line += c == "\n"
            i += 1
    raise Unreadable(start, "unterminated string literal")


_E_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_U_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{4})|\+([0-9A-Fa-f]{6})|(\\))")
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _contents(literal: str, *, escapes: bool) -> str:
    """What a '...' literal holds, as the server reads it ('' is a quote; E'' escapes decoded)."""
    body = literal[1:-1].replace("''", "'")
    if not escapes:
        return body

    def decode(match: re.Match[str]) -> str:
        octal, hexa, short, long, other = match.groups()
        if other is not None:
            return _SIMPLE.get(other, other)
        code = int(octal, 8) if octal else int(hexa or short or long, 16)
        return chr(code) if code <= 0x10FFFF else "?"

    return _E_ESCAPE.sub(decode, body)


def _unicode_contents(literal: str) -> str:
    """What a U&'...' literal holds with the default escape character."""

    def decode(match: re.Match[str]) -> str:
        four, six, backslash = match.groups()
        if backslash:
            return "\\"
        code = int(four or six, 16)
        return chr(code) if code <= 0x10FFFF else "?"

    return _U_ESCAPE.sub(decode, literal[1:-1].replace("''", "'"))


def _quoted_identifier(sql: str, i: int, line: int) -> tuple[int, int, str]:
    start, i, name = line, i + 1, []
    while i < len(sql):
        c = sql[i]
        if c == '"':
            if sql.startswith('""', i):
                name.append('"')
                i += 2
                continue
            return i + 1, line, "".join(name)
        line += c == "\n"
        name.append(c)
        i += 1
    raise Unreadable(start, 'unterminated quoted identifier "...')
