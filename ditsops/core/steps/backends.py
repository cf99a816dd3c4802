"""`action: terminate-backends` and `action: cancel-backends` — destructive by kind.

    - id: kill-long-queries
      action: terminate-backends
      filters: {older_than: "{{ older_than }}", state: [active, idle in transaction]}

    - id: kill-blocker
      action: terminate-backends
      filters: {blocking: true, application: "{{ application }}"}

The preview lists exactly the backends that match now; apply signals only those whose
pid still has the backend_start that was shown. `blocking: true` selects the sessions
that block another session waiting on a lock (never a waiter); apply then also leaves
alone one that no longer blocks anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.durations import parse_duration
from ditsops.base.errors import UsageError
from ditsops.core import db
from ditsops.core.model import Step
from ditsops.core.results import Preview, Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import ActionKind, FieldReader, RunContext
from ditsops.core.steps.sql import database
from ditsops.core.template import references_in, resolve

if TYPE_CHECKING:
    from ditsops.core.pglease import PostgresLease

FILTER_KEYS = ("pids", "state", "older_than", "database", "user", "application", "blocking")
BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class BackendsSpec:
    filters: dict[str, Any]  # raw values, placeholders resolved at run time
    limit: int


def blank(value: Any) -> bool:
    """A filter value that selects nothing out: "", spaces, an empty list, a list of blanks."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(blank(item) for item in value)
    return value is None


def build_filter(raw: dict[str, Any]) -> db.BackendFilter:
    """The selection from filters as given; a filter given blank is refused, never dropped:
    dropped, it would widen the selection (`--app ''` would mean every application)."""
    for key, value in raw.items():
        if key != "blocking" and blank(value):
            raise UsageError(f"filter {key} is empty; refusing to widen the selection to what the others match")
    states = raw.get("state") or ()
    states = (states,) if isinstance(states, str) else tuple(states)
    older = raw.get("older_than")
    if older is not None and not isinstance(older, timedelta):
        older = parse_duration(str(older))
    pids = raw.get("pids") or ()
    return db.BackendFilter(
        blocking=_boolean(raw.get("blocking", False)),
        pids=tuple(int(p) for p in ([pids] if isinstance(pids, int) else pids)),
        states=db.check_states(states),
        older_than=older,
        database=raw.get("database") or None,
        user=raw.get("user") or None,
        application=raw.get("application") or None,
    )


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.strip().lower()]
    raise UsageError(f"filter blocking must be true or false, got {value!r}")


def backend_table(backends: list[db.Backend]) -> Table:
    rows = [(b.pid, b.user, b.application, b.database, b.state, _age(b), b.waiting, b.query) for b in backends]
    return Table(("pid", "user", "application", "database", "state", "in state", "waiting", "query"), rows)


def _age(backend: db.Backend) -> timedelta | None:
    """Time in the current state as a duration, shown like every other (`46s`, `4m12s`)."""
    return timedelta(seconds=backend.state_age) if backend.state_age is not None else None


def blocker_table(backends: list[db.Backend]) -> Table:
    """Blockers of a lock queue: how many sessions each blocks itself, and how many wait behind it."""
    rows = [
        (b.pid, b.user, b.application, b.database, b.state, _age(b), len(b.blocks), len(b.behind), b.query)
        for b in backends
    ]
    columns = ("pid", "user", "application", "database", "state", "in state", "blocks", "queued behind", "query")
    return Table(columns, rows)


def preview_summary(signal: str, found: list[db.Backend], selection: db.BackendFilter, where: str) -> str:
    backends = f"{len(found)} backend{'s' if len(found) != 1 else ''}"
    if selection.blocking and found:
        waiting = db.blocked_sessions(found)
        backends += f" blocking {waiting} session{'s' if waiting != 1 else ''}"
    return f"{signal} {backends} on {where} ({selection.describe()})"


def sql_equivalent(action: str, backends: list[db.Backend]) -> str:
    pids = ", ".join(str(b.pid) for b in backends)
    return f"SELECT pg_{action}_backend(pid) FROM pg_stat_activity WHERE pid IN ({pids});"


class _SignalBackends(ActionKind[BackendsSpec]):
    spec_type = BackendsSpec
    key = "action"
    fields = ("filters", "limit")
    target = "database"
    signal: str

    def parse(self, value: Any, reader: FieldReader) -> BackendsSpec | None:
        filters = reader.get("filters", dict, required=True)
        if filters is None:
            return None
        unknown = set(filters) - set(FILTER_KEYS)
        if unknown:
            reader.problem(
                "filters", f"unknown filter {', '.join(sorted(unknown))} (filters: {', '.join(FILTER_KEYS)})"
            )
        blocking = filters.get("blocking", False)
        if not isinstance(blocking, bool) and not (isinstance(blocking, str) and references_in(blocking)):
            reader.problem("filters", f"blocking must be true or false, got {blocking!r}")
        for key, raw in filters.items():
            if key != "blocking" and blank(raw):
                reader.problem("filters", f"filter {key} is empty: an empty filter would select more, not less")
        if not filters or set(filters) == {"blocking"} and blocking is False:
            # Refuse at load time: an unfiltered terminate would hit every client of the database.
            reader.problem("filters", f"{self.name} needs at least one filter")
        states = filters.get("state")
        for state in [states] if isinstance(states, str) else states or []:
            if state not in db.STATES:
                reader.problem("filters", f"unknown state {state!r} (states: {', '.join(db.STATES)})")
        older = filters.get("older_than")
        if isinstance(older, str) and not references_in(older):
            try:
                parse_duration(older)
            except ValueError as error:
                reader.problem("filters", f"older_than: {error}")
        return BackendsSpec(dict(filters), reader.get("limit", int, default=200))

    def references(self, spec: BackendsSpec | None) -> set[str]:
        return references_in(spec.filters) if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        selection = build_filter(resolve(self.spec_of(step).filters, params))
        return f"{self.signal} client backends matching: {selection.describe()}"

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        spec = self.spec_of(step)
        for key, raw in spec.filters.items():
            value = resolve(raw, ctx.params)
            if references_in(raw) and (value is None or value == [] or not str(value).strip()):
                # One empty filter among others still widens the selection (every 'active' backend).
                raise UsageError(f"{self.name}: filter {key} renders empty; refusing to widen the selection")
        selection = build_filter(resolve(spec.filters, ctx.params))
        if selection.is_empty():
            # Also at run time: a placeholder that resolved to nothing must not widen the selection to everyone.
            raise UsageError(f"{self.name}: every filter is empty; refusing to select all client backends")
        client = database(ctx)
        found = db.backends(client, selection, limit=spec.limit)
        target = client.target
        return Preview(
            target=target.dbname,
            summary=preview_summary(self.signal, found, selection, target.describe()),
            table=blocker_table(found) if selection.blocking else backend_table(found),
            command=sql_equivalent(self.signal, found) if found else None,
            items=found,
            empty=not found,
            data={
                "filter": selection.describe(),
                "blocking": selection.blocking,
                **({"blocked_sessions": db.blocked_sessions(found)} if selection.blocking else {}),
                "backends": [b.to_json() for b in found],
            },
        )

    def lease(self, step: Step, ctx: RunContext) -> PostgresLease:
        """A session advisory lock on the database, named after this engineer and run."""
        from ditsops.core.pglease import postgres_lease
        from ditsops.core.record import who

        return postgres_lease(ctx.settings, who(), ctx.run_id, step.id)

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        blocking = bool(preview.data and preview.data.get("blocking"))
        verb = "terminated" if self.signal == "terminate" else "cancelled"

        def on_record(signalled: list[db.Backend]) -> None:
            ctx.accepted(f"{verb} {len(signalled)} backends", **{verb: [b.pid for b in signalled]})

        report = db.signal_backends(
            database(ctx),
            self.signal,
            preview.items,
            blocking=blocking,
            sleep=ctx.sleep,
            clock=ctx.clock,
            on_signalled=on_record,
        )
        return signal_result(report)


def signal_result(report: db.SignalReport) -> StepResult:
    verb = "terminated" if report.action == "terminate" else "cancelled"
    rows = [(b.pid, b.application, b.state, verb) for b in report.signalled]
    rows += [(b.pid, b.application, b.state, f"not {verb}: {why}") for b, why in report.not_signalled]
    summary = (
        f"{verb} {len(report.signalled)} of {len(report.signalled) + len(report.not_signalled)} previewed backends"
    )
    warnings = []
    if report.still_connected:
        pids = ", ".join(map(str, report.still_connected))
        warnings.append(f"{len(report.still_connected)} terminated backends had not exited yet: {pids}")
    return StepResult(
        status=Status.APPLIED,
        summary=summary,
        tables=[Table(("pid", "application", "state", "result"), rows)],
        warnings=warnings,
        data={
            verb: [b.pid for b in report.signalled],
            f"not_{verb}": [{"pid": b.pid, "reason": why} for b, why in report.not_signalled],
            "still_connected": report.still_connected,
        },
    )


@register
class TerminateBackends(_SignalBackends):
    name = "terminate-backends"
    signal = "terminate"


@register
class CancelBackends(_SignalBackends):
    name = "cancel-backends"
    signal = "cancel"
