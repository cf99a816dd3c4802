"""PostgreSQL diagnostics and backend actions as typed values (no printing here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import UsageError

if TYPE_CHECKING:
    from ditsops.clients.postgres import PostgresClient

STATES = (
    "active",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
)
# What "long-running" means when no state filter is given: anything but plain idle.
NON_IDLE = tuple(s for s in STATES if s != "idle")
ACTIONS = ("terminate", "cancel")


@dataclass(frozen=True)
class Backend:
    pid: int
    backend_start: datetime
    database: str | None
    user: str | None
    application: str
    client: str | None
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    query_start: datetime | None
    xact_start: datetime | None
    query_age: float | None  # seconds since the current/last query started
    state_age: float | None  # seconds in the current state
    xact_age: float | None
    query: str
    blocked_by: tuple[int, ...] = ()
    waiting_for: str | None = None
    # Only filled when selecting blockers (BackendFilter.blocking): the sessions waiting on
    # a lock it holds, and every session queued behind it (directly or through the queue).
    blocks: tuple[int, ...] = ()
    behind: tuple[int, ...] = ()

    @property
    def age(self) -> float | None:
        """Time in the current state (README): an active session's query run time; for one
        idle in transaction, how long it has sat idle, not how old its last query is."""
        return self.query_age if self.state == "active" else self.state_age

    @property
    def waiting(self) -> str:
        # 'Client' waits are an idle session reading from its client: normal, not worth a column.
        if not self.wait_event_type or self.wait_event_type == "Client":
            return ""
        return f"{self.wait_event_type}:{self.wait_event}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Backend:
        return cls(
            pid=row["pid"],
            backend_start=row["backend_start"],
            database=row["database"],
            user=row["user"],
            application=row["application"] or "",
            client=row["client"],
            state=row["state"],
            wait_event_type=row["wait_event_type"],
            wait_event=row["wait_event"],
            query_start=row["query_start"],
            xact_start=row["xact_start"],
            query_age=_seconds(row["query_age"]),
            state_age=_seconds(row["state_age"]),
            xact_age=_seconds(row["xact_age"]),
            query=row["query"] or "",
            blocked_by=tuple(row.get("blocked_by") or ()),
            waiting_for=row.get("waiting_for"),
            blocks=tuple(row.get("blocks") or ()),
            behind=tuple(row.get("behind") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("backend_start", "query_start", "xact_start"):
            data[key] = data[key].isoformat() if data[key] else None
        data["blocked_by"] = list(self.blocked_by)
        data["age"] = self.age
        for key in ("blocks", "behind"):  # only blockers carry them; other listings stay as they were
            if data[key]:
                data[key] = list(data[key])
            else:
                del data[key]
        return data


def _seconds(value: Any) -> float | None:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) if value is not None else None


@dataclass(frozen=True)
class Activity:
    counts: dict[str, int]  # by state, every state listed even when zero
    waiting_on_lock: int
    total: int
    max_connections: int
    superuser_reserved: int
    cluster_total: int  # every client backend, this session included
    longest: list[Backend]
    server_version: str
    filters: dict[str, str] = field(default_factory=dict)
    # ditsops' own connection (1), never in `counts` nor `total`: without filters
    # total + this_session == cluster_total, the number held against max_connections.
    this_session: int = 1

    @property
    def percent_used(self) -> float:
        return 100.0 * self.cluster_total / self.max_connections if self.max_connections else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "waiting_on_lock": self.waiting_on_lock,
            "total": self.total,
            "cluster_total": self.cluster_total,
            "this_session": self.this_session,
            "max_connections": self.max_connections,
            "superuser_reserved": self.superuser_reserved,
            "percent_used": round(self.percent_used, 1),
            "longest": [b.to_json() for b in self.longest],
            "server_version": self.server_version,
            "filters": self.filters,
        }


@dataclass(frozen=True)
class BackendFilter:
    pids: tuple[int, ...] = ()
    states: tuple[str, ...] = ()
    older_than: timedelta | None = None
    database: str | None = None
    user: str | None = None
    application: str | None = None
    blocking: bool = False  # only sessions blocking another session that waits on a lock

    def is_empty(self) -> bool:
        return not (
            self.pids
            or self.states
            or self.older_than
            or self.database
            or self.user
            or self.application
            or self.blocking
        )

    def params(self, limit: int) -> dict[str, Any]:
        return {
            "pids": list(self.pids) or None,
            "states": list(self.states) or None,
            "older_than": self.older_than,
            "db": self.database,
            "user": self.user,
            "app": self.application,
            "blocking": self.blocking,
            "limit": limit,
        }

    def describe(self) -> str:
        parts = []
        if self.blocking:
            parts.append("blocking other sessions")
        if self.pids:
            parts.append("pid " + ",".join(map(str, self.pids)))
        if self.states:
            parts.append("state " + "|".join(self.states))
        if self.older_than:
            from ditsops.base.durations import to_prometheus

            parts.append(f"in state for more than {to_prometheus(self.older_than)}")
        for label, value in (("database", self.database), ("user", self.user), ("application", self.application)):
            if value:
                parts.append(f"{label} {value}")
        return ", ".join(parts) or "all client backends"


def check_states(states: tuple[str, ...]) -> tuple[str, ...]:
    for state in states:
        if state not in STATES:
            raise UsageError(f"unknown state {state!r} (states: {', '.join(STATES)})")
    return states


def activity(
    client: PostgresClient,
    *,
    top: int = 10,
    database: str | None = None,
    user: str | None = None,
    application: str | None = None,
) -> Activity:
    scope = {"db": database, "user": user, "app": application}
    row = client.named("activity_counts", scope).dicts()[0]
    longest = backends(
        client, BackendFilter(states=NON_IDLE, database=database, user=user, application=application), limit=10_000
    )
    longest = sorted(longest, key=lambda b: b.age or 0, reverse=True)[:top]
    counts = {
        "active": row["active"],
        "idle": row["idle"],
        "idle in transaction": row["idle_in_transaction"],
        "idle in transaction (aborted)": row["idle_in_transaction_aborted"],
        "fastpath function call": row["fastpath_function_call"],
        "unknown": row["unknown"],
    }
    return Activity(
        counts=counts,
        waiting_on_lock=row["waiting_on_lock"],
        total=row["total"],
        max_connections=row["max_connections"],
        superuser_reserved=row["superuser_reserved"],
        cluster_total=row["cluster_total"],
        this_session=row["this_session"],
        longest=longest,
        server_version=client.version_text,
        filters={k: v for k, v in scope.items() if v},
    )


def backends(client: PostgresClient, selection: BackendFilter, *, limit: int = 1000) -> list[Backend]:
    return [Backend.from_row(r) for r in client.named("backends", selection.params(limit)).dicts()]


def long_queries(client: PostgresClient, older_than: timedelta, *, limit: int = 100) -> list[Backend]:
    rows = client.named("long_queries", {"older_than": older_than, "limit": limit}).dicts()
    return [Backend.from_row(r) for r in rows]


def idle_in_transaction(client: PostgresClient, older_than: timedelta, *, limit: int = 100) -> list[Backend]:
    rows = client.named("idle_in_transaction", {"older_than": older_than, "limit": limit}).dicts()
    return [Backend.from_row(r) for r in rows]


@dataclass(frozen=True)
class BlockingNode:
    backend: Backend
    blocks: tuple[BlockingNode, ...] = ()

    def count(self) -> int:
        """Sessions shown under this one: each blocked session is in a forest once."""
        return sum(1 + child.count() for child in self.blocks)

    def pids(self) -> list[int]:
        return [self.backend.pid, *(pid for child in self.blocks for pid in child.pids())]


def waiters_of(forest: list[BlockingNode]) -> dict[int, list[int]]:
    """Every session naming each pid in its pg_blocking_pids: a waiter sits under one blocker
    in the forest, but it waits for all it names (two SHARE holders, say)."""
    nodes, named = [*forest], dict[int, list[int]]()
    while nodes:
        node = nodes.pop()
        nodes.extend(node.blocks)
        for pid in node.backend.blocked_by:
            named.setdefault(pid, []).append(node.backend.pid)
    return {pid: sorted(pids) for pid, pids in named.items()}


def blocked_count(forest: list[BlockingNode]) -> int:
    """Sessions waiting on a lock: what `cardinality(pg_blocking_pids(pid)) > 0` counts."""
    return len({pid for root in forest for pid in _waiting(root)})


def _waiting(node: BlockingNode) -> list[int]:
    own = [node.backend.pid] if node.backend.blocked_by else []
    return own + [pid for child in node.blocks for pid in _waiting(child)]


def blocking(client: PostgresClient) -> list[BlockingNode]:
    """Lock-wait forest: each session waiting on a lock once, under the blocker nearest it
    in the lock queue, and every pid blocking it still in its `blocked_by`.

    pg_blocking_pids names every pid a waiter waits for: the holder and the waiters queued
    ahead of it with a conflicting request. A waiter goes under the one of them furthest
    down its chain of waits (A holds, B waits on A, C on A and B: A > B > C), so no session
    is listed, or counted, twice. Roots are blockers that wait on nothing. A waiter whose
    blockers are not sessions (a prepared transaction's pid 0) and a wait cycle (a
    deadlock not yet detected, cut at its lowest pid) start trees of their own.
    """
    found = {b.pid: b for b in (Backend.from_row(r) for r in client.named("blocking").dicts())}
    blockers = {pid: [b for b in backend.blocked_by if b in found and b != pid] for pid, backend in found.items()}
    depth = dict.fromkeys(found, 0)
    for _ in range(len(found)):  # longest chain of waits; bounded, so a cycle cannot loop
        moved = False
        for pid, ahead in blockers.items():
            deepest = max((depth[b] + 1 for b in ahead), default=0)
            if deepest > depth[pid]:
                depth[pid], moved = deepest, True
        if not moved:
            break
    children: dict[int, list[int]] = {}
    for pid, ahead in blockers.items():
        if ahead:
            parent = max(ahead, key=lambda b: (depth[b], -b))
            children.setdefault(parent, []).append(pid)
    placed: set[int] = set()

    def build(pid: int) -> BlockingNode:
        placed.add(pid)
        return BlockingNode(found[pid], tuple(build(c) for c in sorted(children.get(pid, [])) if c not in placed))

    forest = [build(pid) for pid in sorted(found) if not blockers[pid] and not found[pid].blocked_by]
    forest += [build(pid) for pid in sorted(found) if not blockers[pid] and found[pid].blocked_by]
    while len(placed) < len(found):  # only a wait cycle is left unplaced
        forest.append(build(min(pid for pid in found if pid not in placed)))
    return forest


@dataclass(frozen=True)
class SignalReport:
    action: str
    signalled: list[Backend]
    not_signalled: list[tuple[Backend, str]]  # with the reason
    still_connected: list[int]  # terminated pids that had not exited yet when checked


def blocked_sessions(backends: list[Backend]) -> int:
    """How many distinct sessions wait behind these blockers (a waiter behind two counts once)."""
    return len({pid for b in backends for pid in b.behind or b.blocks})


def signal_backends(
    client: PostgresClient,
    action: str,
    previewed: list[Backend],
    *,
    blocking: bool = False,
    wait: float = 5.0,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    on_signalled: Callable[[list[Backend]], None] | None = None,
) -> SignalReport:
    """Send the signal to exactly the previewed backends that still have the same backend_start.

    With blocking (the preview selected blockers of a lock queue), also only to those that
    still block a session waiting on a lock: one that released its locks is left alone.
    """
    import time

    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}")
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    pairs = {"pids": [b.pid for b in previewed], "starts": [b.backend_start for b in previewed]}
    rows = client.act("signal_backends", {"action": action, "blocking": blocking, **pairs}).dicts()
    outcome = {row["pid"]: row for row in rows}

    def why_not(b: Backend) -> str:
        if b.pid not in outcome:
            return "no longer connected, or its pid now belongs to a new connection"
        if blocking and not outcome[b.pid]["still_blocking"]:
            return "no longer blocks any session"
        return "PostgreSQL refused the signal"

    signalled = [b for b in previewed if b.pid in outcome and outcome[b.pid]["signalled"]]
    hit = {b.pid for b in signalled}
    not_signalled = [(b, why_not(b)) for b in previewed if b.pid not in hit]
    if on_signalled and signalled:
        on_signalled(signalled)  # on record before the wait below: a Ctrl-C there must not lose it
    still: list[int] = []
    if action == "terminate" and signalled:
        # pg_terminate_backend only sends SIGTERM; wait briefly so the report says whether they left.
        gone_pairs = {"pids": [b.pid for b in signalled], "starts": [b.backend_start for b in signalled]}
        deadline = clock() + wait
        while True:
            still = [r["pid"] for r in client.named("still_present", gone_pairs).dicts()]
            if not still or clock() >= deadline:
                break
            sleep(0.1)
    return SignalReport(action, signalled, not_signalled, still)
