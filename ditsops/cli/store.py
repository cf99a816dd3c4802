"""`ditsops store ...`: the shared record store (ditsops/store/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ditsops.base.errors import ConfigError, ExitCode
from ditsops.cli.common import OutputOption, app_state
from ditsops.render.cells import escape

if TYPE_CHECKING:
    from ditsops.core.config import Settings
    from ditsops.store.connection import StoreSession

app = typer.Typer(
    no_args_is_help=True,
    help="The shared record store on PostgreSQL: init its schema, status, sync.\n\nExample: ditsops store status",
)


def _store_dsn(settings: Settings) -> str:
    if not settings.record_store:
        raise ConfigError(
            "no record store configured",
            hint="set DITSOPS_RECORD_STORE or 'record_store' in a profile (a PostgreSQL DSN)",
        )
    return settings.record_store


def _session(settings: Settings, *, check_schema: bool = True) -> StoreSession:
    from ditsops.store.connection import open_session

    return open_session(_store_dsn(settings), settings.secrets(), check_schema=check_schema)


@app.command("init")
def init_command(
    ctx: typer.Context,
    role: Annotated[
        str, typer.Option("--role", help="The engineers' role named in the GRANTs printed.")
    ] = "ditsops_engineers",
    output: OutputOption = None,
) -> None:
    """Create the store's schema (once: a second init changes nothing) and print the GRANTs.

    Run it as the database's owner or a superuser. The engineers' role it prints may INSERT
    and SELECT, never UPDATE or DELETE. A schema newer than this ditsops is refused (exit 1).

    Example: ditsops store init --role oncall
    """
    from ditsops.render.output import print_json
    from ditsops.store.schema import check_role, grants, init_schema

    state = app_state(ctx)
    settings = state.settings()
    check_role(role)  # before anything is contacted: exit 2
    session = _session(settings, check_schema=False)
    try:
        report = _guarded(session, lambda: init_schema(session.conn))
        database = str(session.execute("SELECT current_database()").fetchone()[0])
    finally:
        session.close()
    lines = grants(role, database)
    where = _where(settings)
    if state.output_format(output) == "json":
        print_json(
            state.consoles.out,
            {"store": where, "version": report.version, "created": report.created, "grants": lines},
        )
        return
    out = state.consoles.out
    if report.created:
        out.print(f"[ok]record store at {escape(where)}: schema version {report.version} created[/]", soft_wrap=True)
    else:
        out.print(
            f"record store at {escape(where)}: schema version {report.version} already in place; nothing changed",
            soft_wrap=True,
        )
    out.print("[muted]GRANTs for the engineers' role (INSERT and SELECT only):[/]")
    for line in lines:
        out.print(escape(line), soft_wrap=True, highlight=False)


@app.command("status")
def status_command(ctx: typer.Context, output: OutputOption = None) -> None:
    """Whether the store is reachable, its schema version, and how many local runs wait for it.

    Exit 0: reachable with a schema this ditsops knows. 4: unreachable. 1: no schema, or a newer one.

    Example: ditsops --profile sandbox store status
    """
    from ditsops.base.errors import DitsopsError
    from ditsops.render.output import print_json
    from ditsops.store.outbox import pending_runs
    from ditsops.store.schema import SCHEMA, VERSION, schema_version

    state = app_state(ctx)
    settings = state.settings()
    _store_dsn(settings)  # none configured: exit 2 before anything else
    waiting = len(pending_runs(store=_where(settings)))
    info: dict[str, Any] = {"store": _where(settings), "reachable": False, "schema_version": None, "waiting": waiting}
    code = ExitCode.OK
    try:
        session = _session(settings, check_schema=False)
    except DitsopsError as error:
        info["problem"], code = error.message, error.exit_code
    else:
        try:
            info["reachable"] = True
            version = _guarded(session, lambda: schema_version(session.conn))
            info["schema_version"] = version
            if version is None or version > VERSION:
                code = ExitCode.ERROR
                info["problem"] = (
                    "no ditsops schema: ditsops store init"
                    if version is None
                    else f"schema version {version} is newer than this ditsops knows ({VERSION})"
                )
            else:
                row = session.execute(
                    f"SELECT (SELECT count(*) FROM {SCHEMA}.runs), (SELECT count(*) FROM {SCHEMA}.events)"
                ).fetchone()
                info["runs"], info["events"] = int(row[0]), int(row[1])
        except DitsopsError as error:
            info["problem"], code = error.message, error.exit_code
        finally:
            session.close()
    if state.output_format(output) == "json":
        print_json(state.consoles.out, info)
    else:
        _render_status(state.consoles.out, info)
    raise typer.Exit(code)


def _render_status(out: Any, info: dict[str, Any]) -> None:
    reach = "reachable" if info["reachable"] else "unreachable"
    out.print(f"record store: {escape(info['store'])} ({reach})", soft_wrap=True, highlight=False)
    if info.get("schema_version") is not None:
        out.print(f"schema version: {info['schema_version']}", highlight=False)
    if "runs" in info:
        out.print(f"in the store: {info['runs']} runs, {info['events']} events", highlight=False)
    out.print(f"waiting to be synced: {info['waiting']} local runs", highlight=False)
    if info.get("problem"):
        out.print(f"[failing]{escape(info['problem'])}[/]", soft_wrap=True, highlight=False)


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    every: Annotated[
        bool, typer.Option("--all", help="Every local record, also those made before a store was configured.")
    ] = False,
) -> None:
    """Send the store what it lacks of the local records (any command does this for waiting runs).

    Idempotent: a line the store has is never sent twice. Exit 1 when the store refused a record.

    Example: ditsops store sync --all
    """
    from ditsops.store.events import sync_pending

    state = app_state(ctx)
    session = _session(state.settings())
    try:
        report = sync_pending(session, every=every)
    finally:
        session.close()
    state.consoles.out.print(escape(report.summary()), highlight=False)
    for problem in report.problems:
        state.consoles.err.print(f"[bold red]ditsops:[/] refused {escape(problem)}", soft_wrap=True)
    raise typer.Exit(ExitCode.ERROR if report.problems else ExitCode.OK)


def _where(settings: Settings) -> str:
    from ditsops.store.connection import where

    return where(settings.record_store or "")


def _guarded(session: StoreSession, action: Any) -> Any:
    """psycopg errors of an action on the session, as one line of ours."""
    import psycopg

    from ditsops.store.connection import translate

    try:
        return action()
    except psycopg.Error as error:
        raise translate(error, session.conn, session.dsn, session.secrets) from None
