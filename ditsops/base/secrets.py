"""Keeping passwords and tokens out of output, logs and run records.

Every URL or DSN that is printed goes through `redact_url` / `redact_dsn` (or
`redact_text` for free text that may contain them): the userinfo becomes `***` (the user
name is kept when it is clearly separate from the password) and sensitive query
parameters (`?token=`, `?password=`, ...) become `***`.

The userinfo is everything before the LAST `@` of the part before the query, so a raw
`@`, `:` or `/` in a password never leaves its tail behind (`postgres:***@host`, not
`postgres:***@Secret@host`); a raw `?` or `#` in a password is masked too (the `@` after
it, before any `/`, ends the userinfo). Such URLs are refused where they would be used
(a raw `@` in a DSN: libpq would take the tail for the host). Secret query parameters are
masked whole, and known secret values are scrubbed as well, whatever their shape.
"""

from __future__ import annotations

import re
from typing import overload

MASK = "***"

# query parameters (and their spelling in free text) whose values are secrets
SENSITIVE_PARAMETERS = frozenset(
    {"token", "password", "passwd", "pass", "key", "secret", "auth", "access_token", "api_key"}
)

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*://)", re.IGNORECASE)
# a URL inside free text: up to whitespace or a quote/bracket that closes it
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]+", re.IGNORECASE)
_NAMES = "|".join(sorted(SENSITIVE_PARAMETERS, key=len, reverse=True))
# ?token=... &api_key=... ;password=... in free text (outside a full URL too: "GET /x?token=...")
# The value is masked whole, up to the next `&name=` (or `;name=`), a URL's fragment or the
# end: a raw `&` inside a token must not leave its tail on show (`?token=ab&cd` is `?token=***`).
_QUERY_SECRET = re.compile(rf"([?&;](?:{_NAMES})=)((?:(?![&;][A-Za-z_][\w.-]*=)[^#\s'\"])*)", re.IGNORECASE)
# In a DSN a `#` is no fragment (libpq has none): it belongs to the value too.
_DSN_QUERY_SECRET = re.compile(rf"([?&;](?:{_NAMES})=)((?:(?![&;][A-Za-z_][\w.-]*=)[^\s'\"])*)", re.IGNORECASE)
# libpq conninfo: password=secret, password = 'it''s \' quoted', sslpassword=...; an unquoted
# value runs to the next space (`password=se&cret` is one value to libpq)
_CONNINFO_SECRET = re.compile(r"(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.|'')*'?|\S+)", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\s+)([A-Za-z0-9._~+/=-]+)", re.IGNORECASE)
_BASIC = re.compile(r"(\bauthorization:?\s*basic\s+)([A-Za-z0-9+/=]+)", re.IGNORECASE)


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(userinfo or None, the remainder from the host on) for what follows `scheme://`."""
    before_query = re.split(r"[?#]", rest, maxsplit=1)[0]
    at = before_query.rfind("@")
    if at < 0:
        # A raw `#` or `?` in a password ends the authority early for a URL parser, not for
        # whoever wrote it: an `@` later, before any `/`, still ends what they meant as userinfo.
        at = rest.split("/", 1)[0].rfind("@")
        if at < 0:
            return None, rest
    return rest[:at], rest[at + 1 :]


def raw_at_in_userinfo(url: str) -> bool:
    """Whether a URL-form DSN has more than one `@` in its authority: libpq ends the userinfo
    at the first one and takes the rest of the password for the host."""
    scheme = _SCHEME.match(url.strip())
    if not scheme:
        return False
    authority = re.split(r"[/?#]", url.strip()[scheme.end() :], maxsplit=1)[0]
    return authority.count("@") > 1


def _mask_userinfo(userinfo: str) -> str:
    # A user name cannot hold a raw ':' -- everything after the first one is the password.
    # Without ':' the whole userinfo may be a token (https://TOKEN@host): mask all of it.
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if colon and user else MASK


def _mask_query(text: str, pattern: re.Pattern[str] = _QUERY_SECRET) -> str:
    return pattern.sub(lambda m: m.group(1) + MASK, text)


@overload
def redact_url(url: str) -> str: ...
@overload
def redact_url(url: None) -> None: ...
def redact_url(url: str | None) -> str | None:
    """A URL with its userinfo password and secret query parameters replaced by ***."""
    if not url:
        return url
    return _redact_uri(url, _QUERY_SECRET)


def _redact_uri(url: str, query: re.Pattern[str]) -> str:
    scheme = _SCHEME.match(url)
    if not scheme:
        return _mask_query(url, query)
    rest = url[scheme.end() :]
    userinfo, remainder = _split_userinfo(rest)
    head = scheme.group(1) + (_mask_userinfo(userinfo) + "@" if userinfo is not None else "")
    return head + _mask_query(remainder, query)


def redact_dsn(dsn: str | None) -> str | None:
    """A DSN (URI or key=value conninfo) with any password replaced by ***."""
    if not dsn:
        return dsn
    if _SCHEME.match(dsn.strip()):
        return _redact_uri(dsn, _DSN_QUERY_SECRET)
    return _CONNINFO_SECRET.sub(lambda m: m.group(1) + MASK, dsn)


def redact_text(text: str, secrets: frozenset[str] | set[str] = frozenset()) -> str:
    """Remove known secret values and anything shaped like a password or token."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)) or "", text)
    text = _CONNINFO_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _mask_query(text)
    text = _BASIC.sub(lambda m: m.group(1) + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def userinfo_of(url: str | None) -> tuple[str, str] | None:
    """(user, password) written in a URL (percent-decoded), or None."""
    from urllib.parse import unquote

    if not url:
        return None
    scheme = _SCHEME.match(url)
    if not scheme:
        return None
    userinfo, _ = _split_userinfo(url[scheme.end() :])
    if userinfo is None:
        return None
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


def without_userinfo(url: str) -> str:
    """The URL without its userinfo (credentials travel separately, scoped to the origin)."""
    scheme = _SCHEME.match(url)
    if not scheme:
        return url
    _, remainder = _split_userinfo(url[scheme.end() :])
    return scheme.group(1) + remainder


def password_of(dsn: str | None) -> str | None:
    """The password written in a DSN (URL or key=value form), so it can be scrubbed everywhere."""
    if not dsn:
        return None
    if _SCHEME.match(dsn.strip()):
        from urllib.parse import parse_qs

        found = userinfo_of(dsn.strip())
        if found and found[1]:
            return found[1]
        query = dsn.partition("?")[2]
        values = parse_qs(query).get("password")
        return values[0] if values else None
    match = _CONNINFO_SECRET.search(dsn)
    if not match:
        return None
    value = match.group(2)
    if value.startswith("'"):
        value = value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:]
        value = value.replace("\\'", "'").replace("''", "'").replace("\\\\", "\\")
    return value


def strip_password(url: str) -> str:
    """Kept for callers that predate redact_url: the same redaction."""
    return redact_url(url) or url
