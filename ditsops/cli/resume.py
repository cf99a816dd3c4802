"""`ditsops runbook resume RUN`: continue an interrupted (or unfinished) run as a new one.

The run is found in the local records first, then in the record store (another engineer's
run, taken over from another machine). What is carried over is core/resume.py's business.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ditsops.base.errors import UsageError
from ditsops.cli.common import DsnOption, FullOption, OutputOption, VerboseOption, parse_assignments
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, RunLaunch, YesOption

if TYPE_CHECKING:
    from ditsops.core.config import Settings

# A record names its runbook; from a record (perhaps another engineer's, from the store)
# only a shipped or own runbook's plain name is taken, never a path to load.
_RUNBOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def resume_command(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id or unique prefix (local records, then the record store).")],
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="Parameter value, key=value (over the run's own); repeatable.")
    ] = None,
    from_step: Annotated[str | None, typer.Option("--from", help="Start at this step id.")] = None,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    yes: YesOption = False,
    output: OutputOption = None,
    full: FullOption = False,
    verbose: VerboseOption = False,
    dsn: DsnOption = None,
) -> None:
    """Continue a run as a new run linked to it; fixes it applied are not offered again.

    The earlier run's results decide the conditions; diagnostics and previews
    run afresh. A verify after a fix the earlier run applied waits its whole
    window, from now. Same exit codes as `runbook run`.

    Example: ditsops runbook resume 20261207T0312
    """
    from ditsops.core import catalog
    from ditsops.core.loader import resolve_params
    from ditsops.core.resume import prior_from_events
    from ditsops.core.runs import is_direct

    flags = ActionFlags(
        yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output, full=full, verbose=verbose
    )
    launch = RunLaunch.complete(ctx, flags, dsn=dsn)
    run_id, events = _find(run, launch.settings)
    prior = prior_from_events(run_id, events)
    if not _RUNBOOK_NAME.fullmatch(prior.runbook):
        raise UsageError(f"run {run_id} names no runbook that can be resumed by name")
    start = next((e for e in events if isinstance(e, dict) and e.get("event") == "run-start"), {})
    if is_direct(start):  # its runbook was built in code from the command line: no file to walk again
        raise UsageError(
            f"run {run_id} is a direct command ({prior.runbook}), not a runbook walk: "
            "nothing to resume; run the command again"
        )
    runbook = catalog.find(prior.runbook)
    params = resolve_params(
        runbook, parse_assignments(assignments), labels=prior.params, profile=launch.settings.params
    )
    launch.validate(runbook, params)
    outcome = launch.run(runbook, params, from_step=from_step, resumed=prior, whole_incident=True)
    raise typer.Exit(outcome.exit_code)


def _find(run: str, settings: Settings) -> tuple[str, list[dict[str, Any]]]:
    """The run's id and events: from the local records, else from the store."""
    from ditsops.core.record import find_run, read_record

    try:
        path = find_run(run)
    except UsageError as missing:
        if not settings.record_store:
            raise UsageError(
                f"{run!r} matches no run in the local records (no record_store is set to look in)",
                hint="ditsops runbook runs",
            ) from missing
        return _from_store(run, settings)
    record = read_record(path)
    if record.check.status == "broken":
        raise UsageError(
            f"run {record.run_id}: its record does not verify ({record.check.problem}); not resumed from",
            hint=f"ditsops runbook verify {record.run_id}",
        )
    if record.check.running:
        raise UsageError(f"run {record.run_id} is still running (its process holds the record); not resumed")
    first = record.events[0] if record.events else {}
    named = first.get("run") if isinstance(first, dict) else None
    return (named if isinstance(named, str) and named else record.run_id), record.events


def _from_store(run: str, settings: Settings) -> tuple[str, list[dict[str, Any]]]:
    from ditsops.store.connection import open_session
    from ditsops.store.lookup import find_store_run, store_events

    session = open_session(settings.record_store or "", settings.secrets())
    try:
        run_id = find_store_run(session, run)
        return run_id, store_events(session, run_id)
    finally:
        session.close()
