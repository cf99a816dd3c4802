"""Keeping passwords and tokens out of output, logs and run records."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# key=value conninfo (password=secret or password='it''s') and URL query (?password=secret)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.|'')*'|[^\s&]+)", re.IGNORECASE)
# scheme://user:secret@host
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\s+)([A-Za-z0-9._~+/=-]+)", re.IGNORECASE)


def redact_dsn(dsn: str | None) -> str | None:
    """A DSN or URL with any password replaced by ***; other parts kept for diagnosis."""
    if not dsn:
        return dsn
    return redact_text(dsn)


def redact_text(text: str, secrets: frozenset[str] | set[str] = frozenset()) -> str:
    """Remove known secret values and anything shaped like a password or bearer token."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def password_of(dsn: str | None) -> str | None:
    """The password written in a DSN (URL or key=value form), so it can be scrubbed everywhere."""
    if not dsn:
        return None
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return None
        from urllib.parse import parse_qs, unquote

        if parts.password:
            return unquote(parts.password)
        query = parse_qs(parts.query).get("password")
        return query[0] if query else None
    match = _KV_PASSWORD.search(dsn)
    if not match:
        return None
    value = match.group(2)
    if value.startswith("'") and value.endswith("'"):
        value = value[1:-1].replace("\\'", "'").replace("''", "'")
    return value


def strip_password(url: str) -> str:
    """A URL with its userinfo password removed entirely (for display in headers)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc}" if user else netloc))
