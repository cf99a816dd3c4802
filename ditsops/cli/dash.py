"""`ditsops dash`: a Grafana dashboard rendered in the terminal from Prometheus.

Only typer is imported at module level: everything else loads when the command runs, so
`ditsops --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from ditsops.cli.common import OutputOption  # the one --output declaration: a table|json Choice

if TYPE_CHECKING:
    from ditsops.cli.common import AppState
    from ditsops.core.dashquery import DashboardData

DEFAULT_WATCH = "10s"


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
    watch: Annotated[
        str | None,
        typer.Option(
            "--watch",
            "-w",
            metavar="[INTERVAL]",
            is_flag=False,
            flag_value=DEFAULT_WATCH,
            help=f"Refresh in place every INTERVAL (default {DEFAULT_WATCH}); q or Ctrl-C leaves.",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Render a Grafana dashboard from Prometheus: charts, stats, gauges, pies, heatmaps, tables.

    Panels are queried in parallel; a panel whose query fails shows its error, the others
    render. The shipped dashboards are the Dits monitoring spec's three (see dashboards/).

    Example: ditsops --profile sandbox dash overview --since 30m --var job=dits-server
    """
    from ditsops.cli.common import app_state
    from ditsops.core import connect, dashboards, dashquery

    state = app_state(ctx)
    fmt = state.output_format(output)
    board = dashboards.load(dashboard)
    given = _assignments(var)
    window = dashquery.time_range(since, step)  # checks --since/--step before any query
    interval = _interval(watch) if watch is not None else None
    client = connect.prometheus(state.settings())
    try:
        variables = dashquery.resolve_variables(board, given, client)

        def fetch() -> DashboardData:
            now = dashquery.time_range(since, step)
            return dashquery.fetch_dashboard(board, client, now, variables)

        if interval is not None:
            _watch(state, fetch, interval, json_output=fmt == "json")
        data = dashquery.fetch_dashboard(board, client, window, variables)
    finally:
        client.close()
    _show(state, data, fmt)
    raise typer.Exit(_exit_code(data))


def _assignments(items: list[str] | None) -> dict[str, str]:
    from ditsops.cli.common import parse_assignments
    from ditsops.core.errors import UsageError

    try:
        return parse_assignments(items)
    except UsageError as error:
        raise UsageError(error.message.replace("--set", "--var")) from None


def _interval(text: str) -> float:
    from ditsops.core.durations import parse_duration
    from ditsops.core.errors import UsageError

    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text).total_seconds()
    except ValueError:
        raise UsageError(
            f"--watch {text!r}: expected an interval (5s, 1m); give the dashboard before --watch"
        ) from None
    if seconds < 0.5:
        raise UsageError("--watch: the interval must be at least 0.5s")
    return seconds


def _show(state: AppState, data: DashboardData, fmt: str) -> None:
    if fmt == "json":
        from ditsops.render.output import print_json

        print_json(state.consoles.out, data.to_json())
        return
    from ditsops.render.dash import render_dashboard

    render_dashboard(state.consoles.out, data)


def _exit_code(data: DashboardData) -> int:
    """0 when a panel rendered; when every panel failed, 4 if Prometheus was unreachable, else 1."""
    if not data.panels or any(p.error is None for p in data.panels):
        return 0
    return 4 if any(p.unreachable for p in data.panels) else 1


def _watch(state: AppState, fetch: Callable[[], DashboardData], interval: float, *, json_output: bool) -> None:
    """Refresh until q or Ctrl-C (exit 0): in place on a terminal, one snapshot per refresh when piped."""
    from ditsops.cli.dashkeys import Keys

    get = fetch
    out = state.consoles.out
    stdin = sys.stdin.fileno() if state.terminal.stdin_isatty else None
    try:
        with Keys(stdin) as keys:
            if out.is_terminal and not json_output:
                from rich.live import Live

                from ditsops.render.dash import dashboard_view

                with Live(dashboard_view(get()), console=out, auto_refresh=False, transient=False) as live:
                    while not keys.quit_within(interval):
                        live.update(dashboard_view(get()), refresh=True)
            else:
                while True:
                    _show(state, get(), "json" if json_output else "table")
                    if keys.quit_within(interval):
                        break
    except KeyboardInterrupt:
        pass
    raise typer.Exit(0)
