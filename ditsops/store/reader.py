"""A session that only reads the store, opened at the cost of a listing, not of psycopg.

`runbook runs` and `incident list` ask the store two or three SELECTs; importing psycopg
for them took longer than the rest of the command. They read through libpq itself
(clients/libpq.py): the same library, connection string, settings and timeouts as every
other store session (connection.SETTINGS), values sent and read as text. Where no libpq
can be loaded, the reader is the ordinary psycopg session: slower, the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.base.secrets import redact_text
from ditsops.store import connection
from ditsops.store.connection import StoreRefused, StoreSession, StoreUnreachable


class ReadSession:
    """StoreSession's execute and close over a libpq session; every value read is text."""

    def __init__(self, session: Any, dsn: str, secrets: frozenset[str]) -> None:
        self._session = session
        self.dsn = dsn
        self.secrets = secrets

    def execute(self, query: str, params: Sequence[object] = ()) -> Any:
        from ditsops.clients.libpq import LibpqError

        try:
            return self._session.execute(query, params)
        except LibpqError as error:
            text = redact_text(error.message, self.secrets)
            if error.lost:
                raise StoreUnreachable(f"lost the record store at {connection.where(self.dsn)}: {text}") from None
            raise StoreRefused(f"the record store refused: {text}") from None

    def close(self) -> None:
        self._session.close()


def open_reader(dsn: str, secrets: frozenset[str]) -> ReadSession | StoreSession:
    """A session to read the store with (StoreUnreachable within about two seconds
    otherwise), whose schema this ditsops knows, as open_session checks it."""
    from ditsops.clients import libpq

    lib = libpq.load()
    if lib is None:
        return connection.open_session(dsn, secrets)
    try:
        raw = libpq.connect(lib, dsn, connection.SETTINGS)
    except libpq.LibpqError as error:
        connection.remember_failed(dsn)
        text = redact_text(error.message, secrets)
        raise StoreUnreachable(f"record store unreachable at {connection.where(dsn)}: {text}") from None
    reader = ReadSession(raw, dsn, secrets)
    try:
        from ditsops.store.schema import require_known, schema_version

        require_known(schema_version(reader))
    except DitsopsError:
        reader.close()
        raise
    return reader
