"""`ditsops runbook run NAME` (and `ditsops runbook NAME`): walk a runbook, or the one
answering a firing alert (--alert). Imported only when a walk is asked for (cli/runbook.py)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import typer

from ditsops.base.errors import DitsopsError, UsageError
from ditsops.cli.common import DsnOption, FullOption, OutputOption, VerboseOption, parse_assignments
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, RunLaunch, YesOption
from ditsops.cli.runbook import complete_runbook
from ditsops.render.cells import escape


def run_command(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Runbook name (see `runbook list`) or path to a YAML file.",
            autocompletion=complete_runbook,
            show_default=False,
        ),
    ] = None,
    alert: Annotated[
        str | None,
        typer.Option("--alert", help="Run the runbook answering this firing alert, with parameters from its labels."),
    ] = None,
    assignments: Annotated[
        list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="Parameter value; repeatable.")
    ] = None,
    from_step: Annotated[
        str | None, typer.Option("--from", help="Start at this step id (to continue a run: runbook resume RUN).")
    ] = None,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    yes: YesOption = False,
    output: OutputOption = None,
    full: FullOption = False,
    verbose: VerboseOption = False,
    show_queries: Annotated[
        bool,
        typer.Option(
            "--show-queries", help="Show the SQL of named diagnostics, not only their name (the report has it too)."
        ),
    ] = False,
    dsn: DsnOption = None,
) -> None:
    """Run a runbook: diagnostics at once, destructive steps after a preview and a confirmation.

    Exit codes: 0 resolved (every verify passed), 1 a step failed, 2 bad usage, invalid
    runbook or no target configured, 3 not resolved (a check still failing, a fix
    declined), 4 a target unreachable, 5 a destructive step refused.

    With --alert NAME: the runbook whose `alert:` is NAME, parameters from the firing
    alert's labels (--set wins), escalation counted from when it started.

    Example: ditsops --profile sandbox runbook db-connections-exhausted --set older_than=10s
    """
    from ditsops.core import catalog
    from ditsops.core.loader import resolve_params

    flags = ActionFlags(
        yes=yes,
        dry_run=dry_run,
        non_interactive=non_interactive,
        output=output,
        full=full,
        verbose=verbose,
        show_queries=show_queries,
    )
    launch = RunLaunch.complete(ctx, flags, dsn=dsn)
    labels, elapsed, answered = {}, 0.0, None
    if alert:
        runbook, labels, elapsed, answered = _from_alert(launch.state, launch.settings, alert, name, launch.interactive)
    elif name:
        runbook = catalog.find(name)
    else:
        raise UsageError("name a runbook or give --alert NAME", hint="ditsops runbook list")
    params = resolve_params(runbook, parse_assignments(assignments), labels=labels, profile=launch.settings.params)
    launch.validate(runbook, params)
    if answered is None and runbook.alert and launch.settings.record_store and not dry_run:
        answered = _firing(launch.settings, runbook.alert)
    outcome = launch.run(
        runbook, params, from_step=from_step, elapsed_before=elapsed, whole_incident=True, alert=answered
    )
    raise typer.Exit(outcome.exit_code)


def _from_alert(state, settings, alert: str, name: str | None, interactive: bool):
    """The runbook answering a firing alert, the alert's labels, and how long it has fired."""
    from datetime import datetime

    from ditsops.cli.prompts import choose_alert
    from ditsops.core import catalog
    from ditsops.core.alerting import gathered
    from ditsops.incidents.joining import AlertRef

    if name:
        runbook = catalog.find(name)
    else:
        books = catalog.for_alert(alert)
        if not books:
            raise UsageError(f"no runbook answers alert {alert!r}", hint="ditsops runbook list shows the alert of each")
        runbook = books[0]
    found = gathered(settings)
    for note in found.notes:  # one source down: which one answered, and what is missing
        state.consoles.err.print(f"ditsops: {escape(note)}", soft_wrap=True, highlight=False)
    firing = [v for v in found.views if v.alert.name == alert]
    if not firing:
        raise DitsopsError(
            f"alert {alert} is not firing or pending now", hint=f"run it by name: ditsops runbook {runbook.name}"
        )
    if len(firing) > 1:
        if not interactive:
            shown = "; ".join(
                ", ".join(f"{k}={v}" for k, v in sorted(f.alert.labels.items()) if k != "alertname") for f in firing
            )
            raise UsageError(
                f"{len(firing)} {alert} alerts are firing ({shown}); pick one on a terminal, "
                "or run the runbook by name with --set"
            )
        chosen = firing[choose_alert(state.consoles.ask or state.consoles.out, firing)]  # a question: terminal
    else:
        chosen = firing[0]
    since = chosen.alert.since
    elapsed = (datetime.now(UTC) - since).total_seconds() if since else 0.0
    answered = AlertRef(chosen.alert.name, dict(chosen.alert.labels), since)
    return runbook, dict(chosen.alert.labels), max(elapsed, 0.0), answered


def _firing(settings, alert: str):
    """The one firing instance of a runbook's `alert:`, for its incident; None when it is
    not firing, fires several times over (which one is this run for?) or cannot be asked."""
    from ditsops.core.alerting import gather
    from ditsops.incidents.joining import AlertRef

    try:
        firing = [v.alert for v in gather(settings) if v.alert.name == alert and v.alert.state == "firing"]
    except DitsopsError:
        return None  # the walk says what it finds of monitoring; the run joins no incident
    if len(firing) != 1:
        return None
    return AlertRef(firing[0].name, dict(firing[0].labels), firing[0].since)
