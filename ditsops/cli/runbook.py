"""`ditsops runbook ...`: run, list, show, lint, report and verify runbooks and their runs."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from ditsops.base.errors import DitsopsError, UsageError
from ditsops.cli.common import DsnOption, FullOption, OutputOption, VerboseOption, app_state, parse_assignments
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, RunLaunch, YesOption
from ditsops.cli.resume import resume_command
from ditsops.cli.runs import runs_command
from ditsops.cli.verify import verify_command
from ditsops.render.cells import escape

if TYPE_CHECKING:
    from ditsops.core.model import Runbook


class _RunbookGroup(TyperGroup):
    """`ditsops runbook NAME ...` means `ditsops runbook run NAME ...`."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx, incomplete: str):
        # `ditsops runbook <TAB>` offers runbook names too: running one is the main use.
        from typer._click.shell_completion import CompletionItem

        return super().shell_complete(ctx, incomplete) + [CompletionItem(n) for n in _complete_runbook(incomplete)]


app = typer.Typer(
    cls=_RunbookGroup,
    no_args_is_help=True,
    help="Walk a runbook step by step, or list, show and lint runbooks; report and verify run records.\n\n"
    "Example: ditsops runbook db-connections-exhausted --set older_than=2m",
)


def _complete_runbook(incomplete: str) -> list[str]:
    from ditsops.core.catalog import runbook_files

    return [p.stem for p in runbook_files() if p.stem.startswith(incomplete)]


@app.command("run")
def run_command(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Runbook name (see `runbook list`) or path to a YAML file.",
            autocompletion=_complete_runbook,
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


@app.command("list")
def list_command(ctx: typer.Context, output: OutputOption = None) -> None:
    """List the runbooks: shipped ones and your own in $XDG_CONFIG_HOME/ditsops/runbooks.

    Example: ditsops runbook list
    """
    from ditsops.core.catalog import listing
    from ditsops.render.output import print_json
    from ditsops.render.runbook import render_runbook_list

    state = app_state(ctx)
    entries = listing()  # from the runbook index: unchanged files are not parsed again
    if state.output_format(output) == "json":
        print_json(
            state.consoles.out,
            [
                {
                    "name": e.runbook.name,
                    "title": e.runbook.title,
                    "alert": e.runbook.alert,
                    "severity": e.runbook.severity,
                    "steps": len(e.runbook.steps),
                    "path": str(e.path),
                    "shadows": str(e.shadows) if e.shadows else None,
                }
                if e.runbook
                else {
                    "name": e.path.stem,
                    "path": str(e.path),
                    "problems": list(e.problems),
                    "shadows": str(e.shadows) if e.shadows else None,
                }
                for e in entries
            ],
        )
        return
    render_runbook_list(state.consoles.out, entries)


@app.command("show")
def show_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Runbook name or path.", autocompletion=_complete_runbook)],
    output: OutputOption = None,
) -> None:
    """Show a runbook's parameters and steps, marking the destructive ones.

    Example: ditsops runbook show db-connections-exhausted
    """
    from ditsops.core.catalog import find, shadowed
    from ditsops.render.output import print_json
    from ditsops.render.runbook import render_runbook_show

    state = app_state(ctx)
    runbook = find(name)
    if state.output_format(output) == "json":
        print_json(state.consoles.out, _runbook_json(runbook, shadowed(runbook.source)))
        return
    render_runbook_show(state.consoles.out, runbook, shadowed(runbook.source))


def _runbook_json(runbook: Runbook, shadows: Path | None) -> dict[str, Any]:
    """What `runbook show` shows, for scripts: parameters, steps (destructive or not), escalation."""
    from ditsops.base.durations import to_prometheus
    from ditsops.core import steps as step_kinds
    from ditsops.core.params import display

    return {
        "name": runbook.name,
        "title": runbook.title,
        "alert": runbook.alert,
        "severity": runbook.severity,
        "summary": runbook.summary,
        "path": str(runbook.source) if runbook.source else None,
        "shadows": str(shadows) if shadows else None,
        "params": [
            {
                "name": spec.name,
                "type": spec.type,
                "default": display(spec.default) if spec.default is not None else None,
                "required": spec.required or spec.default is None,
                "description": spec.description,
                "choices": list(spec.choices),
            }
            for spec in runbook.params
        ],
        "steps": [
            {
                "number": number,
                "id": step.id,
                "title": step.title,
                "kind": step.kind,
                "destructive": step_kinds.kind_of(step.kind).destructive,
                "why": step.why,
                "when": [condition.describe() for condition in step.when],
                "unit": step.unit,
                "threshold": {
                    "warn": step.threshold.warn,
                    "fail": step.threshold.fail,
                    "direction": step.threshold.direction,
                }
                if step.threshold
                else None,
            }
            for number, step in enumerate(runbook.steps, 1)
        ],
        "escalation": [
            {"after": to_prometheus(reminder.after), "say": reminder.say} for reminder in runbook.escalation
        ],
    }


@app.command("lint")
def lint_command(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Extra runbook files or directories to check.")] = None,
) -> None:
    """Check every shipped runbook and any given path; exit 2 listing all problems of an invalid one.

    Example: ditsops runbook lint my-runbooks/
    """
    from ditsops.base.errors import RunbookError
    from ditsops.core.catalog import runbook_files
    from ditsops.core.loader import load_runbook

    console = app_state(ctx).consoles.out
    files = list(runbook_files())
    for path in paths or []:
        files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    problems: list[str] = []
    for path in files:
        try:
            runbook = load_runbook(path)
        except RunbookError as error:  # every file is checked; all problems of all invalid ones, exit 2
            problems += error.problems
            continue
        # soft_wrap: the path is never broken mid-word, whatever the width (a terminal wraps the line)
        console.print(f"[ok]ok[/] {escape(str(path))} ({len(runbook.steps)} steps)", soft_wrap=True)
    if problems:
        raise RunbookError(problems)


@app.command("report")
def report_command(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Argument(help="Run id (or prefix, or path); default: the last run.")] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Markdown for the postmortem document, not the terminal view.")
    ] = False,
) -> None:
    """Show a run's record: what happened when, what was left undone, how to undo
    what was applied (as commands to paste), the queries and the equivalent commands.

    It says first whether the record's hash chain holds (see `runbook verify`).
    A record cut by a killed run reports everything before the cut and says where it ends.
    With --markdown, the same as a Markdown timeline for the postmortem.

    Example: ditsops runbook report --markdown > incident-timeline.md
    """
    from ditsops.core.record import find_run, read_record

    path = find_run(run)
    record = read_record(path)
    out = app_state(ctx).consoles.out
    if markdown:
        from ditsops.render.report import markdown_report

        out.file.write(markdown_report(record.events, path.stem, record.check))
        return
    from ditsops.render.reportview import render_report

    try:
        render_report(out, record.events, path.stem, record.check)
    except SystemExit:
        # rich meets a broken pipe (`report | head`) by going quiet and exiting 1; a reader
        # that has seen enough is a normal end, exit 0 as for the Markdown
        if not out.quiet:
            raise
        raise typer.Exit(0) from None


# `runbook verify` lives in cli/verify.py (its anchors: the store, the ticket hash)
app.command("verify")(verify_command)
# `runbook resume` lives in cli/resume.py (runs from the local records or the store)
app.command("resume")(resume_command)


# `runbook runs` lives in cli/runs.py (local records through their index, or the store)
app.command("runs")(runs_command)
