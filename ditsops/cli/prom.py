"""`ditsops prom ...`: PromQL at the command line."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import typer

from ditsops.base.errors import UsageError
from ditsops.cli.common import OutputOption, app_state

app = typer.Typer(
    no_args_is_help=True, help="Query Prometheus.\n\nExample: ditsops prom query 'up{job=\"dits-server\"}'"
)

Unit = Annotated[
    str | None, typer.Option("--unit", help="Format values as percent, ratio, seconds, bytes, per-second.")
]
Top = Annotated[int, typer.Option("--top", help="Series to list (the highest first); the rest are counted.", min=1)]


def _client(ctx: typer.Context):
    from ditsops.core import connect

    return connect.prometheus(app_state(ctx).settings())


def _show(ctx: typer.Context, result, output: str | None, unit: str | None, top: int) -> None:
    from ditsops.core.steps.promql import summarize
    from ditsops.render.output import print_json
    from ditsops.render.prom import render_query

    state = app_state(ctx)
    summary = summarize(result, unit=unit, top=top)
    if state.output_format(output) == "json":
        print_json(
            state.consoles.out,
            {
                "result_type": result.result_type,
                "warnings": result.warnings,
                "scalar": result.scalar,
                "count": len(result.series),
                "series": [
                    {"labels": s.labels, "value": s.value, "points": [list(p) for p in s.points]} for s in result.series
                ],
            },
        )
        return
    render_query(state.consoles.out, summary, result.warnings, unit)


@app.command("query")
def query_command(
    ctx: typer.Context,
    expr: Annotated[str, typer.Argument(help="PromQL expression.")],
    at: Annotated[str | None, typer.Option("--time", help="Evaluate at this time (RFC 3339 or unix seconds).")] = None,
    unit: Unit = None,
    top: Top = 20,
    output: OutputOption = None,
) -> None:
    """Run an instant query: a scalar, or series with their values (top N by value, and a count).

    Example: ditsops prom query 'sum by (status) (rate(dits_http_requests_total[5m]))'
    """
    client = _client(ctx)
    try:
        result = client.query(expr, _time(at) if at else None)
    finally:
        client.close()
    _show(ctx, result, output, unit, top)


@app.command("range")
def range_command(
    ctx: typer.Context,
    expr: Annotated[str, typer.Argument(help="PromQL expression.")],
    since: Annotated[str, typer.Option("--since", help="How far back (30m, 1h, 1d).")] = "1h",
    step: Annotated[str, typer.Option("--step", help="Resolution (15s, 1m).")] = "1m",
    unit: Unit = None,
    top: Top = 20,
    output: OutputOption = None,
) -> None:
    """Run a range query: a sparkline per series with its min, max and last value.

    Example: ditsops prom range 'rate(dits_http_requests_total[1m])' --since 1h --step 1m
    """
    from datetime import datetime

    from ditsops.base.durations import parse_duration, to_prometheus

    try:
        window, resolution = parse_duration(since), parse_duration(step)
    except ValueError as error:
        raise UsageError(str(error)) from None
    end = datetime.now(UTC)
    client = _client(ctx)
    try:
        result = client.query_range(expr, end - window, end, to_prometheus(resolution))
    finally:
        client.close()
    _show(ctx, result, output, unit, top)


def _time(text: str):
    from datetime import datetime

    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--time {text!r}: expected RFC 3339 (2026-11-28T03:00:00Z) or unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
