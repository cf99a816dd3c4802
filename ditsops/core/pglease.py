"""The PostgreSQL lease: a session advisory lock on a dedicated connection.

``pg_try_advisory_lock(key)`` never waits: it either takes the lock or says someone has it,
and then ``pg_locks`` joined to ``pg_stat_activity`` says who, through the holder's
``application_name`` (``ditsops lease user@host run=<run> step=<step>``, at most 63 bytes).
The lock lives as long as the connection, so a ditsops that dies releases it with its
socket; nothing renews it. PostgreSQL cannot take a session lock away from another
session, so ``force`` goes on without the lock and says so (``forced``).

The key is a hash of ``ditsops:<database name as the server reports it>``. Advisory locks
are already scoped to one database of one server, so the host and port add nothing but a
way to miss each other: two operators reaching the same server as ``localhost`` and
``127.0.0.1`` must still collide.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from ditsops.base.errors import DitsopsError, TargetError
from ditsops.core.lease import Holder, LeaseHeld, LeaseLost

if TYPE_CHECKING:
    from ditsops.clients.pglock import AdvisoryLockSession, LockHolder
    from ditsops.core.config import Settings

NAMEDATALEN = 63  # application_name is cut to 63 bytes by the server
PREFIX = "ditsops lease "
_APP = re.compile(r"^ditsops lease (\S+) run=(\S+) step=(\S*)\Z")
_ATTEMPTS = 3


def advisory_key(database: str) -> int:
    """A stable signed 64-bit key (Python's hash() changes per process; sha256 does not)."""
    digest = hashlib.sha256(f"ditsops:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _clean(text: str) -> str:
    """Printable ASCII without spaces: the server shows other bytes as '?', and spaces separate
    the fields."""
    return "".join(c if "!" <= c <= "~" else "?" for c in text.replace(" ", "_"))


def _shorten_run(run: str, room: int) -> str:
    """Keep the start (the UTC timestamp) and the random suffix that makes a run id unique,
    dropping the middle (the runbook name): 20261201T10~ab12cd34."""
    if len(run) <= room:
        return run
    tail = run.rsplit("-", 1)[-1] if "-" in run else run[-8:]
    tail = tail[-8:] if len(tail) > 12 else tail
    head = room - len(tail) - 1
    return tail[-room:] if head < 8 else f"{run[:head]}~{tail}"  # less than a date says nothing


def application_name(who: str, run_id: str, step: str) -> str:
    """``ditsops lease user@host run=<run> step=<step>`` within 63 bytes. The run id gives way
    first (down to its random suffix), then the step, and only a user@host that could never
    fit loses the end of its host name."""
    who, run, step = _clean(who) or "?", _clean(run_id) or "?", _clean(step)
    room = NAMEDATALEN - len(PREFIX) - len(" run=") - len(" step=")
    least_run = len(_shorten_run(run, 9))
    step = step[: max(0, room - len(who) - least_run)]
    if len(who) + least_run + len(step) > room:
        who = who[: room - least_run - len(step)]
    run = _shorten_run(run, room - len(who) - len(step))
    return f"{PREFIX}{who} run={run} step={step}"


def holder_from(found: LockHolder) -> Holder:
    """The Holder an advisory lock's session shows; a session that is not a ditsops lease (some
    other tool using the same key) is named by its role, client and pid."""
    match = _APP.match(found.application_name or "")
    if match:
        who, run, step = match.groups()
        return Holder(who, run, step, found.backend_start)
    client = found.client or "local socket"
    return Holder(f"{found.user or 'unknown role'}@{client} (pid {found.pid})", "", "", found.backend_start)


class PostgresLease:
    def __init__(
        self,
        dsn: str,
        who: str,
        run_id: str,
        step: str,
        *,
        target: str | None = None,
        connect_timeout: float = 5.0,
        secrets: frozenset[str] = frozenset(),
    ) -> None:
        self._dsn, self._secrets, self._connect_timeout = dsn, secrets, connect_timeout
        self.who, self.run_id, self.step = who, run_id, step
        self.application_name = application_name(who, run_id, step)
        self._where = target or "the database"
        self.target = f"database {target}" if target else "the database"
        self.key: int | None = None
        self.forced = False
        self.displaced: Holder | None = None
        self._session: AdvisoryLockSession | None = None

    @property
    def held(self) -> bool:
        return self._session is not None and not self._session.closed

    @property
    def backend_pid(self) -> int | None:
        return self._session.backend_pid if self._session is not None else None

    def acquire(self, *, force: bool = False) -> None:
        from ditsops.clients.pglock import AdvisoryLockSession

        if self.held:
            return
        self.forced, self.displaced = False, None
        session = AdvisoryLockSession.connect(
            self._dsn,
            self.application_name,
            where=self._where,
            connect_timeout=self._connect_timeout,
            secrets=self._secrets,
        )
        kept = False  # the session holding the lock stays open until release
        try:
            database = session.current_database()
            self.key = advisory_key(database)
            if self._where == "the database":
                self.target = f'database "{database}"'
            for _ in range(_ATTEMPTS):
                if session.try_lock(self.key):
                    self._session, kept = session, True
                    return
                found = session.holder(self.key)
                if found is None:
                    continue  # released between our two statements: try again
                holder = holder_from(found)
                if not force:
                    raise LeaseHeld(
                        self.target,
                        holder,
                        hint=(f"ask them; the lock goes when their ditsops ends (PostgreSQL backend pid {found.pid})"),
                    )
                self.forced, self.displaced = True, holder  # cannot steal it: go on without, on record
                return
            raise TargetError(f"could not take the advisory lock on {self.target}: it kept changing hands")
        finally:
            if not kept:
                session.close()

    def check(self) -> None:
        """LeaseLost unless the locking connection is still alive (a forced run has none)."""
        if self.forced and self._session is None:
            return
        if self._session is None:
            raise LeaseLost(self.target, "it is not held")
        try:
            self._session.current_database()  # a round trip: a dead connection has dropped the lock
        except DitsopsError as error:
            self.release()
            raise LeaseLost(self.target, f"the connection holding the lock failed ({error.message})") from None

    def release(self) -> None:
        """Unlock and close; idempotent, never raises (a closed connection has released it)."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if self.key is not None and not session.closed:
                session.unlock(self.key)
        except DitsopsError:
            pass
        finally:
            session.close()

    def __enter__(self) -> PostgresLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def postgres_lease(
    dsn: str | Settings,
    who: str,
    run_id: str,
    step: str,
    *,
    target: str | None = None,
    connect_timeout: float = 5.0,
    secrets: frozenset[str] = frozenset(),
) -> PostgresLease:
    """The lease on a database (an advisory lock). dsn may be the Settings."""
    if not isinstance(dsn, str):
        settings = dsn
        if settings.dsn is None:
            raise TargetError("no database configured to lease")
        from ditsops.core.connect import database_target

        where = database_target(settings)
        target = target or f"{where.host}:{where.port}/{where.dbname}"
        dsn, connect_timeout, secrets = settings.dsn, float(settings.connect_timeout), settings.secrets()
    return PostgresLease(dsn, who, run_id, step, target=target, connect_timeout=connect_timeout, secrets=secrets)
