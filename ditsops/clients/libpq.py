"""A read-only PostgreSQL session straight on libpq (through ctypes), for listings that must
start at once.

Importing psycopg costs more than a whole `ditsops --version` (its adapters, asyncio for
one exception class, importlib.metadata for its version); ctypes and libpq itself cost a
tenth of that. This speaks to the server through the same libpq psycopg uses (the one its
binary wheel ships, else the system's), so the connection string, the PG* variables, the
password file, TLS and the timeouts mean exactly what they mean to psycopg. It sends text
parameters and reads text results: the caller asks for what it needs as text (a row as
one JSON document) and parses it. When no libpq can be loaded, `load()` says so and the
caller takes psycopg.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from datetime import datetime

_OK = 0  # CONNECTION_OK
_COMMAND_OK, _TUPLES_OK = 1, 2  # PGRES_COMMAND_OK, PGRES_TUPLES_OK
_PRIMARY = ord("M")  # PG_DIAG_MESSAGE_PRIMARY: the error's first sentence, as psycopg's diag has it
MAX_ERROR = 2000  # what is kept of a server's error text (bounded: it comes from outside)

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_I = ctypes.c_int
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "PQconnectdbParams": (_P, [ctypes.POINTER(_S), ctypes.POINTER(_S), _I]),
    "PQstatus": (_I, [_P]),
    "PQerrorMessage": (_S, [_P]),
    "PQexecParams": (_P, [_P, _S, _I, _P, ctypes.POINTER(_S), _P, _P, _I]),
    "PQresultStatus": (_I, [_P]),
    "PQresultErrorField": (_S, [_P, _I]),
    "PQresultErrorMessage": (_S, [_P]),
    "PQntuples": (_I, [_P]),
    "PQnfields": (_I, [_P]),
    "PQgetisnull": (_I, [_P, _I, _I]),
    "PQgetvalue": (_P, [_P, _I, _I]),
    "PQgetlength": (_I, [_P, _I, _I]),
    "PQclear": (None, [_P]),
    "PQfinish": (None, [_P]),
}

_LOADED: dict[str, ctypes.CDLL | None] = {}


class LibpqError(Exception):
    """The server or libpq said no. `lost`: the session is gone (unreachable, not refused)."""

    def __init__(self, message: str, *, lost: bool) -> None:
        super().__init__(message)
        self.message = message
        self.lost = lost


def _candidates() -> list[str]:
    """psycopg's own libpq first (the binary wheel's `psycopg_binary.libs`), then the system's."""
    found: list[str] = []
    for entry in sys.path:
        folder = os.path.join(entry or ".", "psycopg_binary.libs")
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        found += [os.path.join(folder, name) for name in names if name.startswith("libpq")]
    return [*found, "libpq.so.5"]


def load() -> ctypes.CDLL | None:
    """libpq with the functions used here typed, or None when there is none to load."""
    if "lib" not in _LOADED:
        _LOADED["lib"] = None
        for candidate in _candidates():
            try:
                lib = ctypes.CDLL(candidate)
                for name, (result, arguments) in _SIGNATURES.items():
                    function = getattr(lib, name)
                    function.restype = result
                    function.argtypes = arguments
            except (OSError, AttributeError):
                continue
            _LOADED["lib"] = lib
            break
    return _LOADED["lib"]


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace")[:MAX_ERROR]


def _strings(values: Sequence[str | None]) -> ctypes.Array[ctypes.c_char_p]:
    return (_S * (len(values) + 1))(*[v.encode("utf-8") if v is not None else None for v in values], None)


def _param(value: object) -> str | None:
    """A parameter as PostgreSQL reads it in text (its type inferred by the server)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | str):
        return str(value)
    raise TypeError(f"no text form for a {type(value).__name__} parameter")


def placeholders(query: str) -> str:
    """psycopg's `%s` placeholders as libpq's `$1`, `$2`, … (the queries given here have no
    other `%`: one would be refused rather than guessed)."""
    parts = query.split("%s")
    if any("%" in part for part in parts):
        raise ValueError("a query for libpq has a % that is not a %s placeholder")
    return "".join(part + (f"${n}" if n < len(parts) else "") for n, part in enumerate(parts, 1))


class Rows:
    """What a query returned, as psycopg's cursor hands it: fetchall and fetchone."""

    def __init__(self, rows: list[tuple[str | None, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[str | None, ...]]:
        return self._rows

    def fetchone(self) -> tuple[str | None, ...] | None:
        return self._rows[0] if self._rows else None


class Session:
    """One libpq connection, closed by close(). Every value comes back as text."""

    def __init__(self, lib: ctypes.CDLL, conn: int) -> None:
        self._lib = lib
        self._conn: int | None = conn

    @property
    def lost(self) -> bool:
        return self._conn is None or self._lib.PQstatus(self._conn) != _OK

    def execute(self, query: str, params: Sequence[object] = ()) -> Rows:
        if self._conn is None:
            raise LibpqError("the session is closed", lost=True)
        lib, texts = self._lib, [_param(value) for value in params]
        result = lib.PQexecParams(
            self._conn, placeholders(query).encode("utf-8"), len(texts), None, _strings(texts), None, None, 0
        )
        if not result:
            raise LibpqError(_text(lib.PQerrorMessage(self._conn)).strip() or "no answer", lost=self.lost)
        try:
            if lib.PQresultStatus(result) not in (_COMMAND_OK, _TUPLES_OK):
                message = _text(lib.PQresultErrorField(result, _PRIMARY) or lib.PQresultErrorMessage(result))
                raise LibpqError(message.strip() or "the query failed", lost=self.lost)
            return Rows(self._rows(result))
        finally:
            lib.PQclear(result)

    def _rows(self, result: int) -> list[tuple[str | None, ...]]:
        lib = self._lib
        width = range(lib.PQnfields(result))
        rows: list[tuple[str | None, ...]] = []
        for row in range(lib.PQntuples(result)):
            rows.append(
                tuple(
                    None
                    if lib.PQgetisnull(result, row, column)
                    else ctypes.string_at(
                        lib.PQgetvalue(result, row, column), lib.PQgetlength(result, row, column)
                    ).decode("utf-8", "replace")
                    for column in width
                )
            )
        return rows

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._lib.PQfinish(conn)


def connect(lib: ctypes.CDLL, dsn: str, settings: dict[str, str]) -> Session:
    """A session on dsn (a URI or key=value string, completed by the PG* variables as libpq
    does), `settings` overriding what the DSN says, as psycopg's keyword arguments do.
    LibpqError(lost=True) when it cannot be opened; the message is libpq's first line."""
    keywords = ["dbname", *settings, "client_encoding"]
    values = [dsn, *settings.values(), "UTF8"]
    conn = lib.PQconnectdbParams(_strings(keywords), _strings(values), 1)  # 1: dbname is a whole DSN
    if not conn:
        raise LibpqError("out of memory", lost=True)
    if lib.PQstatus(conn) != _OK:
        message = _text(lib.PQerrorMessage(conn))
        lib.PQfinish(conn)
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        raise LibpqError(lines[0] if lines else "connection failed", lost=True)
    return Session(lib, conn)
