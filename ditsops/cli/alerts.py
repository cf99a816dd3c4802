"""`ditsops alerts` and `ditsops silence ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from ditsops.cli.common import OutputOption, app_state
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, YesOption, run_action
from ditsops.cli.watch import IntervalOption, WatchOption, run_watch, watch_interval


def alerts_command(
    ctx: typer.Context,
    severity: Annotated[
        list[str] | None,
        typer.Option(
            "--severity",
            "-s",
            help="Only alerts of this severity label (critical, warning, info, ...); repeatable or a comma list.",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Every alert, each cell whole (default: the first 1000, long cells cut).")
    ] = False,
    watch: WatchOption = False,
    interval: IntervalOption = None,
) -> None:
    """Firing and pending alerts (Alertmanager when configured, else Prometheus), with the runbook for each.

    Sorted by severity (critical, warning, info, then any other), oldest first within a severity.

    Example: ditsops --profile sandbox alerts --severity critical --watch
    """
    from ditsops.core.alerting import gathered, parse_severities
    from ditsops.render.alerts import render_alerts
    from ditsops.render.cells import escape
    from ditsops.render.output import print_json

    state = app_state(ctx)
    severities = parse_severities(severity or [])
    every = watch_interval(watch, interval)
    json_output = state.output_format(output) == "json"
    _warn_invalid_runbooks(state.consoles.err)

    def draw(console) -> None:
        found = gathered(state.settings(), severities)
        views = found.views
        for note in found.notes:  # one source down: which one answered, and what is missing
            state.consoles.err.print(f"ditsops: {escape(note)}", soft_wrap=True, highlight=False)
        if json_output:
            print_json(console, [v.to_json() for v in views])
        else:
            render_alerts(console, views, full=full)

    if every is not None:
        run_watch(state, "alerts", every, draw, json_output=json_output)
    draw(state.consoles.out)


def _warn_invalid_runbooks(err) -> None:
    """An invalid runbook of one's own is skipped (the others still answer their alerts) and said."""
    from ditsops.core.catalog import catalog
    from ditsops.render.cells import escape

    for entry in catalog():
        if entry.problems:
            err.print(f"ditsops: skipped invalid runbook {escape(entry.problems[0])}", soft_wrap=True, highlight=False)


silence_app = typer.Typer(
    no_args_is_help=True,
    help="Alertmanager silences: add (with a preview and confirmation), list, expire.\n\n"
    "Example: ditsops silence add --alert HighErrorRate --for 1h --comment 'rolling back'",
)


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    matchers: Annotated[
        list[str] | None, typer.Argument(help="More matchers: label=value, label!=value, label=~regex.")
    ] = None,
    alert: Annotated[str | None, typer.Option("--alert", help="Alert name (adds alertname=NAME).")] = None,
    duration: Annotated[str, typer.Option("--for", help="How long (30m, 2h).")] = "1h",
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why; required, shown to everyone paged.")] = "",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Silence alerts: shows which firing alerts it would mute, then asks. Author is $USER@host.

    Example: ditsops silence add --alert HighErrorRate instance=~"dits-.*" --for 30m --comment "rollback in progress"
    """
    from ditsops.base.errors import UsageError
    from ditsops.core.model import Step
    from ditsops.core.steps.silence import SilenceSpec

    given = ([f"alertname={alert}"] if alert else []) + list(matchers or [])
    if not given:
        raise UsageError("silence add: give --alert NAME or at least one matcher")
    if not comment.strip():
        raise UsageError("silence add: --comment is required (it tells the next engineer why they are not paged)")
    from ditsops.base.durations import parse_duration
    from ditsops.clients.alertmanager import Matcher

    for text in given:
        Matcher.parse(text)
    try:
        parse_duration(duration)
    except ValueError as error:
        raise UsageError(f"--for: {error}") from None
    step = Step(
        id="silence-add",
        title="Add this silence",
        kind="action:silence",
        spec=SilenceSpec(tuple(given), duration, comment),
    )
    flags = ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output)
    run_action(ctx, step, "Silence alerts", flags)


@silence_app.command("list")
def silence_list(
    ctx: typer.Context,
    expired: Annotated[bool, typer.Option("--expired", help="Include expired ones.")] = False,
    output: OutputOption = None,
) -> None:
    """Silences in Alertmanager, active and pending (and expired with --expired).

    Example: ditsops silence list
    """
    from ditsops.core import connect
    from ditsops.render.alerts import render_silences
    from ditsops.render.output import print_json

    state = app_state(ctx)
    client = connect.alertmanager(state.settings())
    try:
        silences = [s for s in client.silences() if expired or s.state != "expired"]
    finally:
        client.close()
    if state.output_format(output) == "json":
        print_json(
            state.consoles.out,
            [
                {
                    "id": s.id,
                    "state": s.state,
                    "matchers": [m.describe() for m in s.matchers],
                    "starts": s.starts,
                    "ends": s.ends,
                    "created_by": s.created_by,
                    "comment": s.comment,
                }
                for s in silences
            ],
        )
    else:
        render_silences(state.consoles.out, silences)


@silence_app.command("expire")
def silence_expire(
    ctx: typer.Context,
    silence_id: Annotated[
        str, typer.Argument(help="Silence id (from `silence list`), or a prefix of it no other silence shares.")
    ],
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Expire a silence so its alerts notify again (after a preview and confirmation).

    A unique prefix of the id is enough: a ditsops convenience (amtool wants the whole id);
    one matching several silences is refused, listing them (exit 2).

    Example: ditsops silence expire 6c1a2d4e
    """
    from ditsops.core import connect
    from ditsops.core.alerting import silence_by_prefix
    from ditsops.core.model import Step

    client = connect.alertmanager(app_state(ctx).settings())
    try:
        silence_id = silence_by_prefix(client.silences(), silence_id).id
    finally:
        client.close()
    step = Step(id="silence-expire", title="Expire this silence", kind="action:expire-silence", spec=silence_id)
    flags = ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output)
    run_action(ctx, step, "Expire a silence", flags)
