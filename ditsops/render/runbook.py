"""How a runbook walk looks on a terminal, and how runbooks are listed and shown."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from ditsops.core import steps as step_kinds
from ditsops.core.model import Escalation, Runbook, Step
from ditsops.core.params import display
from ditsops.core.results import Preview, StepResult
from ditsops.render.cells import escape, escape_line, one_line, printable
from ditsops.render.console import STATUS_MARK, STATUS_STYLE
from ditsops.render.loggroups import render_log_groups
from ditsops.render.tables import render_table

if TYPE_CHECKING:  # the engine (and all it imports) stays out of `runbook list` and `show`
    from ditsops.core.engine import RunOutcome

SHADOWS = "(shadows the shipped runbook)"


def file_line(path, shadows) -> tuple[str, str]:
    """The header's `file` line: which file runs, and whether it hides a shipped runbook."""
    from ditsops.core.catalog import display_path

    return ("file", f"{display_path(path)} {SHADOWS}" if shadows else display_path(path))


def render_header(console: Console, runbook: Runbook, params: dict[str, Any], target: list[tuple[str, str]]) -> None:
    lines = Text()
    lines.append(one_line(runbook.title), style="title")
    lines.append(f"  ({runbook.name})\n", style="muted")
    if runbook.alert:
        lines.append(
            one_line(f"answers alert {runbook.alert}" + (f", severity {runbook.severity}" if runbook.severity else ""))
            + "\n"
        )
    for label, value in target:
        style = "danger" if label == "production" and value == "yes" else ""
        if label == "file" and value.endswith(SHADOWS):
            style = "warning"  # an own file runs instead of the shipped runbook of that name
        lines.append(f"{label:<13}", style="muted")
        lines.append(f"{one_line(value)}\n", style=style)
    given = {k: display(v) for k, v in params.items() if v is not None and display(v) != ""}  # no `namespace=`
    if given:
        lines.append(f"{'parameters':<13}", style="muted")
        lines.append(one_line(", ".join(f"{k}={v}" for k, v in given.items())))  # may come from alert labels
    console.print(Panel(lines, expand=False))


def render_run_started(console: Console, runbook: Runbook, params: dict[str, Any], target, mode: str) -> None:
    render_header(console, runbook, params, [*target, ("mode", mode)])
    if runbook.summary:  # a runbook is as untrusted as an alert label: shown, never markup
        console.print(f"[muted]{escape(runbook.summary)}[/]")


def render_step_started(
    console: Console, step: Step, number: int, total: int, shown: str, *, brief: str | None = None
) -> None:
    """`brief`: a one-line stand-in for the text (a named diagnostic), shown instead of it."""
    destructive = step_kinds.kind_of(step.kind).destructive
    marker = " [danger](changes things)[/]" if destructive else ""
    console.print()
    console.rule(f"[title]\\[{number}/{total}] {escape_line(step.title)}[/]{marker}", align="left")
    if step.why:
        console.print(f"[muted]Why: {escape(step.why)}[/]")
    if brief:
        console.print(f"[query]{escape(brief)}[/]  [muted](its SQL: --show-queries)[/]")
    elif shown and step.kind == "note":
        # The instruction once, its commands as written; below, each command whole on a line
        # of its own (soft-wrapped: one line on the clipboard) with the run's target options.
        commands = NOTE_COMMAND.findall(shown)
        short = NOTE_COMMAND.sub(lambda m: f"`{_short(m[1])}`", shown)
        console.print(Text.assemble(("To do: ", "title"), printable(short)))
        for command in dict.fromkeys(commands):
            console.print(Text(f"  $ {printable(command)}"), soft_wrap=True)
    elif shown and not console.is_terminal:
        # Piped (`| tee incident.log`): the query as written, each line whole, to paste.
        console.print(Text(printable(shown)), soft_wrap=True)
    elif shown:
        lexer = "sql" if step.kind == "sql" else "text"
        console.print(Syntax(printable(shown), lexer, theme="ansi_dark", word_wrap=True, background_color="default"))


NOTE_COMMAND = re.compile(r"`(ditsops(?: [^`\n]*)?)`")
_TARGET_OPTIONS = {"--config", "--profile", "--context", "--namespace", "-n", "-p"}


def _short(command: str) -> str:
    """`ditsops db blocking` from `ditsops --profile sandbox db blocking`: the words a note's
    reader needs; the whole command follows on its own line."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    rest = words[1:]
    while len(rest) >= 2 and rest[0] in _TARGET_OPTIONS:
        rest = rest[2:]
    return shlex.join(["ditsops", *rest])


def split_undo(summary: str) -> tuple[str, str]:
    """('created job x', 'ditsops ... delete job x') from 'created job x; undo: ditsops ...'
    (also the ` (undo: ...)` form); the summary whole and '' when it names no undo."""
    at = summary.find("undo: ")
    if at < 0:
        return summary, ""
    head, command = summary[:at].rstrip(), summary[at + len("undo: ") :].strip()
    if head.endswith("("):
        head, command = head[:-1].rstrip(), command.removesuffix(")")
    return head.rstrip(";").rstrip(), command


def render_step_result(console: Console, result: StepResult, *, full: bool = False) -> None:
    style = STATUS_STYLE.get(result.status, "")
    mark = STATUS_MARK.get(result.status, "•")
    if result.panel is not None:  # a `panel:` step: the dashboard panel, drawn as `ditsops dash` draws it
        from ditsops.render.dash import render_panel

        render_panel(console, result.panel.panels[0], result.panel.time)
    for table in result.tables:
        render_table(console, table, full=full)
    if result.log_groups:
        render_log_groups(console, result.log_groups, full=full)
    # The words wrap at spaces (never `datab` / `ase`); an `undo:` command to paste goes on
    # a line of its own, soft-wrapped: the terminal may wrap it, the clipboard gets one line.
    head, command = split_undo(result.summary)
    console.print(f"[{style}]{mark} {result.status}[/]: {escape_line(head)}")
    if command:
        console.print(f"  undo: {escape_line(command)}", soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[warning]! {escape_line(warning)}[/]")


def render_preview(console: Console, preview: Preview, *, full: bool = False) -> None:
    if preview.empty:
        console.print(f"[muted]{escape(preview.summary)}[/]")
        return
    console.print(f"[danger]This will {escape(preview.summary)}[/]")
    if preview.table:
        render_table(console, preview.table, full=full)
    if preview.command:
        console.print(f"[muted]Equivalent:[/] {escape_line(preview.command)}", soft_wrap=True)


def render_progress(console: Console, message: str) -> None:
    """A progress message as a line of its own (off a terminal every re-check is kept)."""
    console.print(f"[muted]  {escape(message)}[/]", soft_wrap=not console.is_terminal)


def render_escalation(console: Console, reminder: Escalation, elapsed: float) -> None:
    from ditsops.base.durations import format_duration

    console.print(
        Panel(
            f"{format_duration(elapsed)} into the incident: [title]{escape_line(reminder.say)}[/]",
            title="Escalate",
            style="warning",
            expand=False,
        )
    )


def render_state_moved(console: Console, what: str) -> None:
    console.print(f"[warning]The target changed since the preview; nothing was sent.[/] {escape(what)}")


def render_lease_held(console: Console, message: str) -> None:
    console.print(f"[warning]Another engineer is acting on this:[/] {escape(message)}")


def render_run_finished(console: Console, outcome: RunOutcome) -> None:
    counts: dict[str, int] = {}
    for item in outcome.steps:
        counts[item.result.status] = counts.get(item.result.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    console.print()
    style = "ok" if outcome.exit_code == 0 else "failing"
    # soft_wrap: the verdict may name a command to run next (another alert's runbook); the
    # terminal may wrap it, the log and the clipboard get it on one line.
    console.print(f"[{style}]{escape(outcome.reason)}[/] — {escape(summary)}", soft_wrap=True)
    if outcome.record:
        console.print(f"[muted]Run record: {outcome.record.path}[/]", soft_wrap=True)
        console.print(f"[muted]Timeline for the postmortem:[/] {escape(outcome.report_command)}", soft_wrap=True)
        if outcome.record.head:  # the anchor its writer cannot rewrite: runbook verify --expect-hash
            console.print(f"[muted]Record sha256 for the ticket:[/] {outcome.record.head}", soft_wrap=True)


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "runbook": outcome.runbook.name,
        "exit_code": outcome.exit_code,
        "reason": outcome.reason,
        "record": str(outcome.record.path) if outcome.record else None,
        "record_sha256": outcome.record.head if outcome.record else None,
        "parent": outcome.parent,  # the run this one resumed (runbook resume)
        "still_firing": outcome.still_firing,  # other critical alerts firing when it ended
        "steps": [
            {
                "id": item.step.id,
                "title": item.step.title,
                "status": item.result.status,
                "summary": item.result.summary,
                "value": item.result.value,
                "seconds": round(item.seconds, 3),
                "warnings": item.result.warnings,
                "result": item.result.data,
                "preview": item.preview.data if item.preview else None,
            }
            for item in outcome.steps
        ],
        "latest": {k: {"status": v.status, "summary": v.summary, "value": v.value} for k, v in outcome.latest.items()},
    }


def render_runbook_list(console: Console, entries) -> None:
    from ditsops.core.results import Table

    rows: list[tuple[Any, ...]] = []
    for entry in entries:
        if entry.runbook is None:
            rows.append((entry.path.stem, "", "", "", Text(f"invalid: {entry.problems[0]}", style="failing")))
            continue
        book = entry.runbook
        rows.append((book.name, book.alert or "", book.severity or "", len(book.steps), book.title))
    # render_table's column policy: names and alerts whole at any width, piped or not
    table = Table(("name", "alert", "severity", "steps", "title"), rows)
    render_table(console, table, expendable=("steps",))
    _render_shadows(console, entries)


def _render_shadows(console: Console, entries) -> None:
    """Own runbooks that hide a shipped one of the same name: which file runs instead."""
    for entry in entries:
        if entry.shadows:
            console.print(  # soft_wrap: the path is printed whole, to paste
                f"[warning]{escape(entry.path.stem)}: {escape(file_line(entry.path, entry.shadows)[1])}[/]",
                soft_wrap=True,
                highlight=False,
            )


def render_runbook_show(console: Console, runbook: Runbook, shadows=None) -> None:
    render_header(console, runbook, {}, [file_line(runbook.source, shadows)])
    if runbook.summary:
        console.print(escape(runbook.summary))
    if runbook.params:
        console.print("\n[title]Parameters[/]")
        for spec in runbook.params:
            default = f" = {display(spec.default)}" if spec.default is not None else " (required)"
            console.print(
                f"  {escape_line(spec.name)}: {escape_line(str(spec.type))}{escape_line(default)}"
                f"  [muted]{escape_line(spec.description or '')}[/]"
            )
    console.print("\n[title]Steps[/]")
    for number, step in enumerate(runbook.steps, 1):
        kind = step_kinds.kind_of(step.kind)
        flag = " [danger]DESTRUCTIVE — asks for confirmation[/]" if kind.destructive else ""
        when = f" [muted]when {escape_line(' and '.join(c.describe() for c in step.when))}[/]" if step.when else ""
        console.print(
            f"  {number}. [title]{escape_line(step.id)}[/] ({escape_line(step.kind)}) "
            f"{escape_line(step.title)}{flag}{when}"
        )
        if step.why:
            console.print(f"     [muted]{escape(step.why)}[/]")
    if runbook.escalation:
        console.print("\n[title]Escalation[/]")
        for reminder in runbook.escalation:
            from ditsops.base.durations import to_prometheus

            console.print(f"  after {to_prometheus(reminder.after)}: {escape_line(reminder.say)}")
