"""`ditsops db ...`: PostgreSQL diagnostics and backend actions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import typer

from ditsops.base.durations import parse_duration
from ditsops.base.errors import UsageError
from ditsops.cli.common import AppState, DsnOption, FullOption, OutputFormat, OutputOption, app_state
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, YesOption
from ditsops.cli.watch import BACKEND_ERRORS, IntervalOption, KeptClient, WatchOption, run_watch, watch_interval

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from ditsops.clients.postgres import PostgresClient
    from ditsops.core.db import Backend

app = typer.Typer(
    no_args_is_help=True,
    help="PostgreSQL diagnostics (read-only) and backend terminate/cancel (with confirmation).\n\n"
    "Example: ditsops db activity",
)

OlderThan = Annotated[
    str, typer.Option("--older-than", help="Only sessions in their state longer than this (30s, 5m, 1h).")
]


def _duration(text: str, option: str = "--older-than"):
    try:
        return parse_duration(text)
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


def _connect(ctx: typer.Context, dsn: str | None):
    from ditsops.core import connect

    # Read commands run shipped SQL only: on the diagnostics role when one is configured.
    return connect.reader(app_state(ctx).settings(dsn=dsn))


@app.command("activity")
def activity_command(
    ctx: typer.Context,
    database: Annotated[str | None, typer.Option("--db", help="Only this database.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
    app_name: Annotated[str | None, typer.Option("--app", help="Only this application_name.")] = None,
    top: Annotated[int, typer.Option("--top", help="How many of the longest-running queries to list.", min=1)] = 10,
    output: OutputOption = None,
    full: FullOption = False,
    dsn: DsnOption = None,
    watch: WatchOption = False,
    interval: IntervalOption = None,
) -> None:
    """Connections by state against max_connections, lock waits, then the longest-running queries.

    With --watch, refreshed on one kept session (as pg_activity) until q or Ctrl-C.

    Example: ditsops db activity --app dits-server --watch
    """
    from ditsops.core import db
    from ditsops.render.db import render_activity
    from ditsops.render.output import print_json

    state = app_state(ctx)
    fmt = state.output_format(output)
    every = watch_interval(watch, interval)
    session = _session(ctx, dsn)

    def draw(console: Console) -> None:
        report = db.activity(session.get(), top=top, database=database, user=user, application=app_name)
        if fmt == "json":
            print_json(console, report.to_json())
        else:
            render_activity(console, report, full=full)

    _show(state, session, "db activity", every, draw, json_output=fmt == "json")


@app.command("long-queries")
def long_queries_command(
    ctx: typer.Context,
    older_than: OlderThan = "5m",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    output: OutputOption = None,
    full: FullOption = False,
    dsn: DsnOption = None,
) -> None:
    """Non-idle queries running longer than --older-than, longest first.

    Example: ditsops db long-queries --older-than 2m
    """
    _list(
        ctx,
        "long_queries",
        _duration(older_than),
        limit=limit,
        output=output,
        full=full,
        dsn=dsn,
        title=f"Queries running longer than {older_than}",
        empty=f"No query has run longer than {older_than}.",
        age="query",
    )


@app.command("idle-in-transaction")
def idle_in_transaction_command(
    ctx: typer.Context,
    older_than: OlderThan = "1m",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    output: OutputOption = None,
    full: FullOption = False,
    dsn: DsnOption = None,
) -> None:
    """Sessions idle inside an open transaction longer than --older-than (they hold locks and a slot).

    Example: ditsops db idle-in-transaction --older-than 30s
    """
    _list(
        ctx,
        "idle_in_transaction",
        _duration(older_than),
        limit=limit,
        output=output,
        full=full,
        dsn=dsn,
        title=f"Idle in transaction longer than {older_than}",
        empty=f"No session idle in transaction longer than {older_than}.",
        age="state",
    )


# The backend listings by name: each names the core function that finds its sessions.
Listing = Literal["long_queries", "idle_in_transaction"]


class _Finder(Protocol):
    def __call__(self, client: PostgresClient, older_than: timedelta, *, limit: int = ...) -> list[Backend]: ...


def _finder(which: Listing) -> _Finder:
    from ditsops.core import db

    finders: dict[Listing, _Finder] = {
        "long_queries": db.long_queries,
        "idle_in_transaction": db.idle_in_transaction,
    }
    return finders[which]


def _list(
    ctx: typer.Context,
    which: Listing,
    older: timedelta,
    *,
    limit: int,
    output: OutputFormat | None,
    full: bool,
    dsn: str | None,
    title: str,
    empty: str,
    age: str,
) -> None:
    from ditsops.render.db import render_backends
    from ditsops.render.output import print_json

    state = app_state(ctx)
    fmt = state.output_format(output)
    find = _finder(which)
    client = _connect(ctx, dsn)
    try:
        found = find(client, older, limit=limit)
    finally:
        client.close()
    if fmt == "json":
        print_json(state.consoles.out, [b.to_json() for b in found])
    else:
        render_backends(state.consoles.out, found, title=title, empty=empty, full=full, age=age)


@app.command("blocking")
def blocking_command(
    ctx: typer.Context,
    output: OutputOption = None,
    full: FullOption = False,
    dsn: DsnOption = None,
    watch: WatchOption = False,
    interval: IntervalOption = None,
) -> None:
    """Sessions waiting on a lock, as a tree under the sessions blocking them.

    With --watch, refreshed on one kept session until q or Ctrl-C.

    Example: ditsops db blocking --watch
    """
    from ditsops.core import db
    from ditsops.render.db import render_blocking
    from ditsops.render.output import print_json

    state = app_state(ctx)
    fmt = state.output_format(output)
    every = watch_interval(watch, interval)
    session = _session(ctx, dsn)

    def node(n, named):
        # blocks: every pid naming this one in pg_blocking_pids; waiters: the tree, each once.
        return {
            **n.backend.to_json(),
            "blocks": named.get(n.backend.pid, []),
            "waiters": [node(c, named) for c in n.blocks],
        }

    def draw(console: Console) -> None:
        forest = db.blocking(session.get())
        if fmt == "json":
            named = db.waiters_of(forest)
            print_json(console, [node(n, named) for n in forest])
        else:
            render_blocking(console, forest, full=full)

    _show(state, session, "db blocking", every, draw, json_output=fmt == "json")


def _session(ctx: typer.Context, dsn: str | None) -> KeptClient[PostgresClient]:
    return KeptClient(lambda: _connect(ctx, dsn), lambda client: client.broken, lambda client: client.close())


def _show(
    state: AppState,
    session: KeptClient[PostgresClient],
    title: str,
    every: float | None,
    draw: Callable[[Console], None],
    *,
    json_output: bool,
) -> None:
    """Draw once, or every `every` seconds on the one session; the server's warnings said once."""
    try:
        if every is not None:
            try:
                _warn(state, session.get())
            except BACKEND_ERRORS:
                pass  # not reachable yet: the view says so, and the next refresh tries again
            run_watch(state, title, every, draw, json_output=json_output)
        draw(state.consoles.out)
        _warn(state, session.get())
    finally:
        session.close()


def _warn(state: AppState, client: PostgresClient) -> None:
    from ditsops.render.cells import escape_line

    for warning in client.warnings:
        state.consoles.err.print(f"[warning]{escape_line(warning)}[/]")


def _signal(
    ctx: typer.Context, action: str, raw: dict[str, Any], *, limit: int, flags: ActionFlags, dsn: str | None
) -> None:
    """raw: the filters given (pids, state, older_than, user, application, database, blocking);
    an option not given is absent, never None or empty."""
    from ditsops.base.durations import to_prometheus
    from ditsops.cli.launch import run_action
    from ditsops.core.model import Step
    from ditsops.core.steps.backends import BackendsSpec, blank, build_filter

    for key, value in raw.items():
        # Given but empty (`--app ''`): dropping it would widen the selection to every application.
        if key != "blocking" and blank(value):
            raise UsageError(f"db {action}: {_OPTION_OF[key]} is empty; refusing to widen the selection")
    if "older_than" in raw:
        raw["older_than"] = _duration(raw["older_than"])
        if raw["older_than"].total_seconds() <= 0:
            raise UsageError(f"db {action}: --older-than must be longer than 0s (0s would select every session)")
    if build_filter(raw).is_empty():
        raise UsageError(
            f"db {action}: give --pid or at least one filter (--older-than, --state, --user, --app, --db, --blocking)"
        )
    if "older_than" in raw and "state" not in raw and "pids" not in raw:
        raw["state"] = ["active", "idle in transaction", "idle in transaction (aborted)", "fastpath function call"]
    filters = {k: (to_prometheus(v) if k == "older_than" else v) for k, v in raw.items() if v}
    step = Step(
        id=f"db-{action}",
        title=f"{action.capitalize()} these backends",
        kind=f"action:{action}-backends",
        spec=BackendsSpec(filters, limit),
    )
    run_action(ctx, step, f"{action.capitalize()} PostgreSQL backends", flags, dsn=dsn)


_OPTION_OF = {
    "pids": "--pid",
    "state": "--state",
    "older_than": "--older-than",
    "user": "--user",
    "application": "--app",
    "database": "--db",
}


def _signal_command(action: str):
    def command(
        ctx: typer.Context,
        pids: Annotated[list[int] | None, typer.Option("--pid", help="Backend pid; repeatable.")] = None,
        older_than: Annotated[
            str | None, typer.Option("--older-than", help="In their current state longer than this.")
        ] = None,
        states: Annotated[
            list[str] | None, typer.Option("--state", help="active, idle in transaction, ...; repeatable.")
        ] = None,
        user: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
        app_name: Annotated[str | None, typer.Option("--app", help="Only this application_name.")] = None,
        database: Annotated[str | None, typer.Option("--db", help="Only this database.")] = None,
        blocking: Annotated[
            bool,
            typer.Option(
                "--blocking",
                help="Only sessions blocking another session that waits on a lock (never the waiters); "
                "skipped at apply time if they no longer block anyone.",
            ),
        ] = False,
        limit: Annotated[int, typer.Option("--limit", help="At most this many backends.", min=1)] = 200,
        yes: YesOption = False,
        dry_run: DryRunOption = False,
        non_interactive: NonInteractiveOption = False,
        output: OutputOption = None,
        full: FullOption = False,
        dsn: DsnOption = None,
    ) -> None:
        given = {
            "pids": pids,
            "state": states,
            "older_than": older_than,
            "user": user,
            "application": app_name,
            "database": database,
        }
        raw: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
        if blocking:
            raw["blocking"] = True
        _signal(
            ctx,
            action,
            raw,
            limit=limit,
            flags=ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output, full=full),
            dsn=dsn,
        )

    verb = "Terminate" if action == "terminate" else "Cancel the current query of"
    command.__doc__ = (
        f"{verb} client backends by --pid or filters, after a preview and a confirmation.\n\n"
        "Only backends whose pid still has the backend start time shown in the preview are hit; "
        "never this session or a non-client backend. With --blocking: the sessions at the head of a "
        "lock queue, each shown with how many sessions it blocks.\n\n"
        f"Example: ditsops db {action} --blocking --app dits-server"
    )
    return command


app.command("terminate")(_signal_command("terminate"))
app.command("cancel")(_signal_command("cancel"))
