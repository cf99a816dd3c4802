"""`ditsops runbook runs`: the latest runs, one line each; the team's from the store when
one is configured, this machine's records otherwise (through their index)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ditsops.base.errors import DitsopsError, UsageError
from ditsops.cli.common import OutputOption, app_state

if TYPE_CHECKING:
    from ditsops.core.runs import RunFilter

# text, parsed here: a number option would have typer import pydantic to convert it, which
# costs more than the whole listing (see cli/coercion.py)
LimitOption = Annotated[str, typer.Option("--limit", help="Show the latest N (default 20).", show_default=False)]
MAX_LIMIT = 1_000_000


def parse_limit(text: str, every: bool) -> int | None:
    """--limit N (1 to a million) or --all (None: no limit)."""
    if every:
        return None
    if not text.strip().isdigit() or not 1 <= int(text.strip()[:8]) <= MAX_LIMIT:
        raise UsageError(f"--limit {text[:40]!r}: give a whole number from 1 to {MAX_LIMIT:,}, or --all")
    return int(text)


AllOption = Annotated[bool, typer.Option("--all", help="Show every one, not only the latest.")]


def parse_since(text: str | None) -> datetime | None:
    """--since: a duration back from now (2h, 1d) or a time (2026-12-07, 2026-12-07T03:00Z)."""
    if text is None:
        return None
    from ditsops.base.durations import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text[:40]!r}: give a duration back from now (2h, 1d) or a time (2026-12-07T03:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def runs_command(
    ctx: typer.Context,
    incident: Annotated[str | None, typer.Option("--incident", help="Only the runs of this incident.")] = None,
    runbook: Annotated[str | None, typer.Option("--runbook", help="Only the runs of this runbook.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only runs started since: 2h, 1d or a time.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only my runs (the `user` setting, else user@host).")] = False,
    limit: LimitOption = "20",
    every: AllOption = False,
    local: Annotated[bool, typer.Option("--local", help="This machine's records, even with a record store.")] = False,
    output: OutputOption = None,
) -> None:
    """List the latest runs, newest last, one line each: when, who, runbook (direct
    commands marked `cmd`), verdict, run id (as short as it stays unique).

    With a record store: the team's runs from the store; without one (or --local): this
    machine's records. `-o json` has every field and the whole verdict. The run id (or a
    prefix of it) is what `runbook report` and `runbook verify` take.

    Example: ditsops runbook runs --mine --since 1d
    """
    from ditsops.core.runs import RunFilter, run_page
    from ditsops.render.output import print_json
    from ditsops.render.runs import render_runs

    state = app_state(ctx)
    settings = state.settings()
    where = RunFilter(
        incident=incident.strip().lower() if incident else None,
        runbook=runbook,
        since=parse_since(since),
        user=_me() if mine else None,
        limit=parse_limit(limit, every),
    )
    listed = None
    if settings.record_store and not local:
        listed = _from_store(state, settings.record_store, settings.secrets(), where)
    if listed is not None:
        runs, more, known, origin = *listed, [], "the record store"
    else:
        page = run_page(where=where)
        runs, more, known, origin = page.runs, page.total - len(page.runs), page.ids, "local records"
    out = state.terminal.out()  # written without rich: its import would cost more than the listing
    if state.output_format(output) == "json":
        print_json(out, [run.to_json() for run in runs])
        return
    empty = "" if not (where.incident or where.runbook or where.since or where.user) else f"No runs match ({origin})."
    render_runs(out, runs, known=known, more=more, where=empty)


def _me() -> str:
    from ditsops.core.identity import who

    return who()


def _from_store(state, dsn: str, secrets: frozenset[str], where: RunFilter):
    """(runs, older ones left out, no ids) from the store, or None when it cannot answer (said once)."""
    from ditsops.incidents.listing import store_runs
    from ditsops.store.reader import open_reader

    try:
        session = open_reader(dsn, secrets)
    except DitsopsError as error:
        _say(state, f"{error.message}; listing this machine's records")
        return None
    try:
        runs, more = store_runs(session, where)
    except DitsopsError as error:
        _say(state, f"{error.message}; listing this machine's records")
        return None
    finally:
        session.close()
    return runs, (-1 if more else 0)


def _say(state, text: str) -> None:
    from ditsops.render.cells import escape

    state.consoles.err.print(f"[warning]ditsops:[/] {escape(text)}", soft_wrap=True, highlight=False)
