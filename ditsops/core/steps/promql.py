"""`promql:` — an instant (or `range:`) PromQL query, compared with thresholds.

    - id: error-rate
      title: Share of requests failing
      promql: >-
        100 * sum(rate(dits_http_requests_total{status=~"5.."}[{{ window }}]))
        / sum(rate(dits_http_requests_total[{{ window }}]))
      unit: percent
      threshold: {warn: 1, fail: 5}
      top: 10                       # a vector of many series shows its count and the worst N
      range: {since: 1h, step: 1m}  # optional: a sparkline per series over the window
      when_empty: ok                # what no series means: ok | warning | failing (default: no data)

The value compared with the threshold is the worst series: the highest for `direction:
above`, the lowest for `below`; for a range query, each series' last point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.durations import parse_duration, to_prometheus
from ditsops.core import promql
from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import references
from ditsops.core.thresholds import format_value

if TYPE_CHECKING:
    from ditsops.clients.prometheus import PrometheusClient, PromResult

EMPTY_STATES = {"ok": Status.OK, "warning": Status.WARNING, "failing": Status.FAILING}


@dataclass(frozen=True)
class PromqlSpec:
    query: str
    top: int = 10
    since: timedelta | None = None  # set for range queries
    step: timedelta | None = None
    when_empty: str | None = None


def prometheus(ctx: RunContext) -> PrometheusClient:
    from ditsops.core import connect

    return ctx.client("prometheus", lambda: connect.prometheus(ctx.settings))


@register
class PromqlKind(StepKind[PromqlSpec]):
    spec_type = PromqlSpec
    prefetch = True
    key = "promql"
    fields = ("top", "range", "when_empty")
    thresholds = True
    target = "prometheus"

    def parse(self, value: Any, reader: FieldReader) -> PromqlSpec | None:
        if not isinstance(value, str) or not value.strip():
            reader.problem("promql", "'promql' must be a PromQL expression")
            return None
        top = reader.get("top", int, default=10)
        since = step = None
        window = reader.get("range", dict)
        if window is not None:
            try:
                since = parse_duration(str(window.get("since", "1h")))
                step = parse_duration(str(window.get("step", "1m")))
            except ValueError as error:
                reader.problem("range", f"range: {error}")
            unknown = set(window) - {"since", "step"}
            if unknown:
                reader.problem("range", f"range takes since and step, not {', '.join(sorted(unknown))}")
        empty = reader.get("when_empty", str)
        if empty is not None and empty not in EMPTY_STATES:
            reader.problem("when_empty", f"'when_empty' must be one of {', '.join(EMPTY_STATES)}")
        return PromqlSpec(value.strip(), top, since, step, empty)

    def references(self, spec: PromqlSpec | None) -> set[str]:
        return references(spec.query) if spec else set()

    def check_params(self, spec: PromqlSpec, params: dict[str, Any]) -> list[tuple[str, str]]:
        return [("promql", problem) for problem in promql.check(spec.query, params)]

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        spec = self.spec_of(step)
        # Shown before it runs: a value that cannot stand where it is keeps its placeholder
        # here, and running the step refuses it with the parameter's name.
        text = promql.fill(spec.query, params, strict=False)
        if spec.since and spec.step:  # a range query (parse sets both)
            text += f"\n# over the last {to_prometheus(spec.since)}, one point every {to_prometheus(spec.step)}"
        return text

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        spec = self.spec_of(step)
        expr = promql.fill(spec.query, ctx.params)
        client = prometheus(ctx)
        if spec.since and spec.step:
            end = datetime.now(UTC)
            result = client.query_range(expr, end - spec.since, end, to_prometheus(spec.step))
        else:
            result = client.query(expr)
        below = step.threshold is not None and step.threshold.direction == "below"
        return summarize(result, unit=step.unit, below=below, top=spec.top, when_empty=spec.when_empty)


def _rank(value: float | None, *, below: bool) -> tuple[bool, float]:
    """Worst first; NaN (and a series without a value) last."""
    value = math.nan if value is None else value
    return (value != value, value if below else -value)


def summarize(
    result: PromResult, *, unit: str | None = None, below: bool = False, top: int = 10, when_empty: str | None = None
) -> StepResult:
    """A query result as the worst value, a count and a top-N table (NaN ranks last)."""
    if result.result_type == "scalar":
        return StepResult(
            Status.INFO,
            "scalar",
            value=result.scalar,
            warnings=result.warnings,
            data={"result_type": "scalar", "value": result.scalar},
        )
    series = [s for s in result.series if s.value is not None]
    if not series:
        status = EMPTY_STATES.get(when_empty or "", Status.INFO)
        return StepResult(
            status,
            "no series returned" + (f" ({when_empty} by this runbook)" if when_empty else ""),
            warnings=result.warnings,
            data={"result_type": result.result_type, "count": 0, "series": []},
        )
    # NaN (0/0 when there is no traffic) ranks last: it is neither worst nor best.
    ranked = sorted(series, key=lambda s: _rank(s.value, below=below))
    worst = ranked[0]
    labels = promql.varying_labels([s.labels for s in series])
    shown = ranked[:top]
    if result.result_type == "matrix":
        columns = (*labels, "trend", "min", "max", "last")
        rows = [
            (
                *(s.labels.get(k, "") for k in labels),
                promql.sparkline([v for _, v in s.points]),
                format_value(min(v for _, v in s.points), unit),
                format_value(max(v for _, v in s.points), unit),
                format_value(s.value, unit),
            )
            for s in shown
        ]
    else:
        columns = (*labels, "value")
        rows = [(*(s.labels.get(k, "") for k in labels), format_value(s.value, unit)) for s in shown]
    count = len(series)
    where = f" (worst: {worst.describe()})" if count > 1 else ""
    summary = f"{count} series{where}" if count > 1 else "1 series"
    return StepResult(
        Status.INFO,
        summary,
        value=worst.value if worst.value == worst.value else None,
        tables=[Table(columns, rows, total=count if count > len(shown) else None)],
        warnings=result.warnings,
        data={
            "result_type": result.result_type,
            "count": count,
            "series": [{"labels": s.labels, "value": s.value} for s in shown],
        },
    )
