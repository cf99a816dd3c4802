"""`ditsops runbook list|show|lint|report`: the runbooks themselves, and a run's report.
Imported only when one of them is asked for (cli/runbook.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ditsops.cli.common import OutputOption, app_state
from ditsops.cli.runbook import complete_runbook
from ditsops.render.cells import escape

if TYPE_CHECKING:
    from ditsops.core.model import Runbook


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


def show_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Runbook name or path.", autocompletion=complete_runbook)],
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
