"""`ditsops health`: the Dits server's /health, /health/live and /health/ready."""

from __future__ import annotations

from typing import Annotated

import typer

from ditsops.base.errors import ExitCode
from ditsops.cli.common import OutputOption, app_state
from ditsops.cli.watch import IntervalOption, WatchOption, run_watch, watch_interval
from ditsops.render.cells import escape


def health_command(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Dits server base URL (default: dits_url); another host gets no credentials."),
    ] = None,
    output: OutputOption = None,
    watch: WatchOption = False,
    interval: IntervalOption = None,
) -> None:
    """Check the Dits server's health endpoints. Exit 0 healthy, 1 degraded, 4 unreachable.

    With --watch the check repeats until q or Ctrl-C (exit 0), an unreachable server shown in the view.

    Example: ditsops health --url http://dits.internal:8080
    """
    from ditsops.core import connect
    from ditsops.core.health import check_health
    from ditsops.render.health import health_json, render_health
    from ditsops.render.output import print_json

    state = app_state(ctx)
    every = watch_interval(watch, interval)
    client = connect.dits(state.settings(), url)
    if not client.configured_origin:
        # Credentials stay with their origin: another host gets none, and the engineer knows why.
        state.consoles.err.print(
            f"[muted]no credentials sent: {escape(client.where)} is not a configured origin "
            "(dits_url, prometheus_url, alertmanager_url)[/]",
            soft_wrap=True,
        )
    json_output = state.output_format(output) == "json"

    def draw(console) -> bool:
        report = check_health(client)
        if json_output:
            print_json(console, health_json(report))
        else:
            render_health(console, report)
        return report.healthy

    try:
        if every is not None:
            run_watch(state, "health", every, draw, json_output=json_output)
        healthy = draw(state.consoles.out)
    finally:
        client.close()
    raise typer.Exit(ExitCode.OK if healthy else ExitCode.ERROR)
