"""`ditsops health`: the Dits server's /health, /health/live and /health/ready."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from ditsops.cli.common import OutputOption, app_state


def health_command(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Dits server base URL (default: dits_url); another host gets no credentials."),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Check the Dits server's health endpoints. Exit 0 healthy, 1 degraded, 4 unreachable.

    Example: ditsops health --url http://dits.internal:8080
    """
    from ditsops.core import connect
    from ditsops.core.health import check_health
    from ditsops.render.health import health_json, render_health
    from ditsops.render.output import print_json

    state = app_state(ctx)
    client = connect.dits(state.settings(), url)
    if not client.configured_origin:
        # Credentials stay with their origin: another host gets none, and the engineer knows why.
        state.consoles.err.print(
            f"[muted]no credentials sent: {escape(client.where)} is not a configured origin "
            "(dits_url, prometheus_url, alertmanager_url)[/]",
            soft_wrap=True,
        )
    try:
        report = check_health(client)
    finally:
        client.close()
    if state.output_format(output) == "json":
        print_json(state.consoles.out, health_json(report))
    else:
        render_health(state.consoles.out, report)
    raise typer.Exit(0 if report.healthy else 1)
