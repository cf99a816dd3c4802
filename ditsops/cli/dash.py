"""`ditsops dash`: a Grafana dashboard rendered in the terminal from Prometheus.

Only typer is imported at module level: everything else loads when the command runs, so
`ditsops --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ditsops.cli.common import OutputOption  # the one --output declaration: a table|json Choice
from ditsops.cli.watch import IntervalOption, WatchOption, watch_interval

if TYPE_CHECKING:
    from rich.console import Console

    from ditsops.cli.common import AppState
    from ditsops.core.dashquery import DashboardData

# A dashboard is a dozen range queries: refreshed less often than a single live view.
DEFAULT_WATCH_SECONDS = 10.0


def dash_command(
    ctx: typer.Context,
    dashboard: Annotated[
        str, typer.Argument(help="overview, storage, database, or the path of a Grafana dashboard .json.")
    ] = "overview",
    since: Annotated[str, typer.Option("--since", help="Time range ending now (30m, 1h, 1d).")] = "1h",
    step: Annotated[
        str | None,
        typer.Option("--step", help="Resolution (15s, 1m); default about 120 points over --since.", show_default=False),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Set a dashboard variable: --var job=dits-server (repeatable).", show_default=False),
    ] = None,
    expand: Annotated[
        bool, typer.Option("--expand", help="Open collapsed rows (their panels are drawn and queried).")
    ] = False,
    watch: WatchOption = False,
    interval: IntervalOption = None,
    output: OutputOption = None,
) -> None:
    """Render a Grafana dashboard from Prometheus: charts, stats, gauges, pies, heatmaps, tables.

    Panels are queried in parallel; a panel whose query fails shows its error, the others
    render. Variables, repeats and rows as Grafana resolves them; any Grafana dashboard
    JSON (legacy rows too). The shipped dashboards are the Dits monitoring spec's three.

    Example: ditsops --profile sandbox dash overview --since 30m --var job=dits-server
    """
    from ditsops.cli.common import app_state, parse_assignments
    from ditsops.core import connect, dashboards, dashquery

    state = app_state(ctx)
    fmt = state.output_format(output)
    board = dashboards.load(dashboard)
    given = parse_assignments(var, "--var")
    window = dashquery.time_range(since, step)  # checks --since/--step before any query
    every = watch_interval(watch, interval, default=DEFAULT_WATCH_SECONDS)
    client = connect.prometheus(state.settings())
    try:
        ready = dashquery.prepare(board, given, client, window)
        # The terminal leaves collapsed rows shut unless --expand: their panels are not asked for.
        shown = [
            p
            for p in ready.dashboard.panels
            if expand or fmt == "json" or not ready.dashboard.sections[p.row].collapsed
        ]

        def fetch() -> DashboardData:
            now = dashquery.time_range(since, step)
            return dashquery.fetch_dashboard(
                ready.dashboard, client, now, ready.variables, panels=shown, notes=ready.notes
            )

        if every is not None:
            from ditsops.cli.watch import run_watch

            run_watch(
                state,
                f"dash {dashboard}",
                every,
                lambda console: _draw(console, fetch(), fmt, expand),
                json_output=fmt == "json",
            )
        data = dashquery.fetch_dashboard(
            ready.dashboard, client, window, ready.variables, panels=shown, notes=ready.notes
        )
    finally:
        client.close()
    _show(state, data, fmt, expand)
    raise typer.Exit(_exit_code(data))


def _show(state: AppState, data: DashboardData, fmt: str, expand: bool) -> None:
    _draw(state.consoles.out, data, fmt, expand)


def _draw(console: Console, data: DashboardData, fmt: str, expand: bool = False) -> None:
    if fmt == "json":
        from ditsops.render.output import print_json

        print_json(console, data.to_json())
        return
    from ditsops.render.dash import render_dashboard

    render_dashboard(console, data, expand)


def _exit_code(data: DashboardData) -> int:
    """0 when the dashboard came out: some panel that asked Prometheus answered, or none
    asked (text, types not drawn, other data sources, failing panels among good ones all
    exit 0, each saying why in its box). Only when every panel that asked Prometheus
    failed: 4 if Prometheus was unreachable, else 1."""
    asked = [p for p in data.panels if p.error is not None or p.queried]
    if not asked or any(p.error is None for p in asked):
        return 0
    return 4 if any(p.unreachable for p in asked) else 1
