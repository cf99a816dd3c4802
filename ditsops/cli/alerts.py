"""`ditsops alerts` and `ditsops silence ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from ditsops.cli.common import OutputOption, app_state
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, YesOption, run_action


def alerts_command(ctx: typer.Context, output: OutputOption = None) -> None:
    """Firing and pending alerts (Alertmanager when configured, else Prometheus), with the runbook for each.

    Example: ditsops --profile sandbox alerts
    """
    from ditsops.core.alerting import gather
    from ditsops.render.alerts import render_alerts
    from ditsops.render.output import print_json

    state = app_state(ctx)
    views = gather(state.settings())
    _warn_invalid_runbooks(state.consoles.err)
    if state.output_format(output) == "json":
        print_json(state.consoles.out, [v.to_json() for v in views])
    else:
        render_alerts(state.consoles.out, views)


def _warn_invalid_runbooks(err) -> None:
    """An invalid runbook of one's own is skipped (the others still answer their alerts) and said."""
    from rich.markup import escape

    from ditsops.core.catalog import catalog

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
    from ditsops.core.errors import UsageError
    from ditsops.core.model import Step
    from ditsops.core.steps.silence import SilenceSpec

    given = ([f"alertname={alert}"] if alert else []) + list(matchers or [])
    if not given:
        raise UsageError("silence add: give --alert NAME or at least one matcher")
    if not comment.strip():
        raise UsageError("silence add: --comment is required (it tells the next engineer why they are not paged)")
    from ditsops.clients.alertmanager import Matcher
    from ditsops.core.durations import parse_duration

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
    silence_id: Annotated[str, typer.Argument(help="Silence id (from `silence list`).")],
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Expire a silence so its alerts notify again (after a preview and confirmation).

    Example: ditsops silence expire 6c1a2d4e-0b7f-4c51-9f7e-2a6a4c9b1d10
    """
    from ditsops.core.model import Step

    step = Step(id="silence-expire", title="Expire this silence", kind="action:expire-silence", spec=silence_id)
    flags = ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output)
    run_action(ctx, step, "Expire a silence", flags)
