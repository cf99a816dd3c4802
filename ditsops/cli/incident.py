"""`ditsops incident ...`: the incidents of the shared record store (ditsops/incidents/)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from ditsops.base.errors import ConfigError, UsageError
from ditsops.cli.common import OutputOption, app_state
from ditsops.cli.runs import AllOption, LimitOption, parse_limit
from ditsops.render.cells import escape

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ditsops.core.config import Settings
    from ditsops.store.connection import StoreSession

app = typer.Typer(
    no_args_is_help=True,
    help="Incidents shared through the record store: list, show, handoff, close.\n\nExample: ditsops incident list",
)

IdArgument = Annotated[str, typer.Argument(help="The incident id (inc-xxxxxx; see `incident list`).")]
MAX_NOTE = 500


@contextmanager
def _store(settings: Settings, *, reading: bool = False) -> Iterator[StoreSession]:
    """A session on the store; `reading`: one that only reads, opened fast (store/reader.py)."""
    if not settings.record_store:
        raise ConfigError("incidents need a record store: set record_store in a profile or DITSOPS_RECORD_STORE")
    from ditsops.store.connection import open_session
    from ditsops.store.reader import open_reader

    session = (open_reader if reading else open_session)(settings.record_store, settings.secrets())
    try:
        yield session
    finally:
        session.close()


@app.command("list")
def list_command(
    ctx: typer.Context,
    closed: Annotated[bool, typer.Option("--closed", help="Closed incidents too.")] = False,
    limit: LimitOption = "20",
    every: AllOption = False,
    output: OutputOption = None,
) -> None:
    """Open incidents, newest last: the alert, since when, who is acting now, the last action, the state.

    Example: ditsops incident list -o json
    """
    from ditsops.incidents.acting import with_live_leases
    from ditsops.incidents.listing import list_incidents
    from ditsops.render.incidents import render_incidents
    from ditsops.render.output import print_json

    state = app_state(ctx)
    settings = state.settings()
    with _store(settings, reading=True) as session:
        incidents, more = list_incidents(session, limit=parse_limit(limit, every), closed=closed)
    incidents = with_live_leases(settings, incidents)
    out = state.terminal.out()  # written without rich: its import would cost more than the listing
    if state.output_format(output) == "json":
        print_json(out, [i.to_json() for i in incidents])
        return
    render_incidents(out, incidents, more=more)


@app.command("show")
def show_command(
    ctx: typer.Context,
    incident: IdArgument,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown, for the postmortem.")] = False,
    output: OutputOption = None,
) -> None:
    """One incident as one timeline, from every engineer's runs: the changes applied and
    their undo, the verdicts, what was left undone and the next step.

    Example: ditsops incident show inc-3f9a2c --markdown > postmortem.md
    """
    from ditsops.incidents.registry import resolve
    from ditsops.incidents.timeline import incident_detail
    from ditsops.render.incidents import incident_markdown, render_incident
    from ditsops.render.output import print_json

    state = app_state(ctx)
    settings = state.settings()
    with _store(settings) as session:
        detail = incident_detail(session, resolve(session, incident), settings)
    if state.output_format(output) == "json":
        print_json(state.consoles.out, detail.to_json())
    elif markdown:
        state.consoles.out.file.write(incident_markdown(detail))
    else:
        render_incident(state.consoles.out, detail)


def _note(text: str) -> str:
    if len(text) > MAX_NOTE:
        raise UsageError(f"--note: at most {MAX_NOTE} characters ({len(text)} given)")
    return text


@app.command("handoff")
def handoff_command(
    ctx: typer.Context,
    incident: IdArgument,
    to: Annotated[str, typer.Option("--to", help="Who takes over (their `user` name).")],
    note: Annotated[str, typer.Option("--note", help="What they need to know first.")],
    output: OutputOption = None,
) -> None:
    """Hand the incident over to another engineer, with a note; recorded in its timeline.

    Example: ditsops incident handoff inc-3f9a2c --to bob --note "rollback applied, watch the error rate"
    """
    from ditsops.core.identity import who
    from ditsops.incidents.registry import append, bounded, resolve
    from ditsops.render.output import print_json

    if not to.strip() or not note.strip():
        raise UsageError("incident handoff: --to and --note must not be empty")
    state = app_state(ctx)
    with _store(state.settings()) as session:
        found = resolve(session, incident)
        seq = append(session, found, "handoff", who(), {"to": bounded(to.strip(), 100), "note": _note(note)})
    if state.output_format(output) == "json":
        print_json(state.consoles.out, {"incident": found, "seq": seq, "to": to.strip(), "by": who()})
        return
    state.consoles.out.print(f"[ok]incident {found} handed off to {escape(to.strip())}[/]", soft_wrap=True)


@app.command("close")
def close_command(
    ctx: typer.Context,
    incident: IdArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Close although its alerts fire (recorded as forced).")
    ] = False,
    note: Annotated[str, typer.Option("--note", help="Why it is over.")] = "",
    output: OutputOption = None,
) -> None:
    """Close an incident. Refused while its alerts fire (exit 5), or when monitoring cannot
    tell (exit 4), unless --force, which the timeline records with the alerts firing.

    Example: ditsops incident close inc-3f9a2c --note "rolled back to 1.4.2"
    """
    from ditsops.core.identity import who
    from ditsops.incidents.closing import close_incident
    from ditsops.incidents.listing import list_incidents
    from ditsops.incidents.registry import resolve
    from ditsops.render.output import print_json

    state = app_state(ctx)
    settings = state.settings()
    with _store(settings) as session:
        found = resolve(session, incident)
        (summary,), _ = list_incidents(session, limit=1, closed=True, only=found)
        firing = close_incident(session, settings, summary, who(), force=force, note=_note(note))
    if state.output_format(output) == "json":
        print_json(state.consoles.out, {"incident": found, "closed": True, "forced": bool(firing), "firing": firing})
        return
    forced = f" (forced while firing: {'; '.join(firing)})" if firing else ""
    state.consoles.out.print(f"[ok]incident {found} closed[/]{escape(forced)}", soft_wrap=True)
