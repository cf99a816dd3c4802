"""`panel:` — a dashboard panel, by dashboard and title, drawn in the walk as in `ditsops dash`.

    - id: error-trend
      title: Error ratio over the last 30 minutes
      panel: overview/Error Rate          # a shipped dashboard (or a .json path) / panel title
      vars: {job: "{{ job }}"}            # the dashboard's template variables, from parameters
      range: {since: 30m, step: 30s}      # default: the last hour, about 120 points

The runbook shows the same graph the team knows from Grafana. The step's value is the
panel's first series reduced as the panel reduces it (its last value for a graph), so a
threshold or a condition can use it. Variable values are substituted as values only
(escaped for the quote they stand in; outside quotes only numbers, durations and names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.durations import parse_duration, to_prometheus
from ditsops.base.errors import DitsopsError
from ditsops.core import dashboards, dashquery
from ditsops.core.dashunits import format_unit
from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import references, render_text

if TYPE_CHECKING:
    from ditsops.core.dashquery import PromQueries

DEFAULT_SINCE = timedelta(hours=1)


@dataclass(frozen=True)
class PanelSpec:
    dashboard: str  # a shipped dashboard's name or a .json path
    title: str
    vars: dict[str, str] = field(default_factory=dict)  # variable -> template
    since: timedelta = DEFAULT_SINCE
    step: timedelta | None = None


def split_reference(value: str) -> tuple[str, str] | None:
    """'overview/Error Rate' -> ('overview', 'Error Rate'); a path keeps its slashes up to '.json/'."""
    marker = value.find(".json/")
    if marker >= 0:
        return value[: marker + 5], value[marker + 6 :].strip()
    board, sep, title = value.partition("/")
    return (board.strip(), title.strip()) if sep and board.strip() and title.strip() else None


@register
class PanelKind(StepKind[PanelSpec]):
    spec_type = PanelSpec
    prefetch = True
    key = "panel"
    fields = ("vars", "range")
    thresholds = True
    target = "prometheus"

    def parse(self, value: Any, reader: FieldReader) -> PanelSpec | None:
        parts = split_reference(value) if isinstance(value, str) else None
        if parts is None:
            reader.problem("panel", "'panel' must be DASHBOARD/Panel title, e.g. overview/Error Rate")
            return None
        try:
            board = dashboards.load(parts[0])
            board.panel(parts[1])
        except DitsopsError as error:
            reader.problem("panel", f"panel: {error.message}")
            return None
        raw_vars = reader.get("vars", dict, default={})
        variables = {str(k): str(v) for k, v in raw_vars.items()}
        unknown = sorted(set(variables) - {v.name for v in board.variables})
        if unknown:
            reader.problem("vars", f"dashboard {board.title!r} has no variable {', '.join(unknown)}")
        since, step = DEFAULT_SINCE, None
        window = reader.get("range", dict)
        if window is not None:
            unexpected = set(window) - {"since", "step"}
            if unexpected:
                reader.problem("range", f"range takes since and step, not {', '.join(sorted(unexpected))}")
            try:
                since = parse_duration(str(window.get("since", "1h")))
                step = parse_duration(str(window["step"])) if "step" in window else None
            except ValueError as error:
                reader.problem("range", f"range: {error}")
        return PanelSpec(parts[0], parts[1], variables, since, step)

    def references(self, spec: PanelSpec | None) -> set[str]:
        return set().union(*(references(v) for v in spec.vars.values())) if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        spec = self.spec_of(step)
        board = dashboards.load(spec.dashboard)
        panel = board.panel(spec.title)
        given = {k: render_text(v, params) for k, v in spec.vars.items()}
        values = {**dashquery.builtins(spec.since, spec.step or dashquery.auto_step(spec.since)), **given}
        lines = [f"# {board.title} / {panel.title}, the last {to_prometheus(spec.since)}"]
        for target in panel.targets:
            try:
                lines.append(dashquery.substitute(target.expr, values))
            except DitsopsError:
                lines.append(target.expr)  # shown as written; running it says what is refused
        return "\n".join(lines)

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        from ditsops.core.steps.promql import prometheus

        spec = self.spec_of(step)
        board = dashboards.load(spec.dashboard)
        panel = board.panel(spec.title)
        client: PromQueries = prometheus(ctx)
        given = {k: render_text(v, ctx.params) for k, v in spec.vars.items()}
        variables = dashquery.resolve_variables(board, given, client)
        step_size = spec.step or dashquery.auto_step(spec.since)
        window = dashquery.TimeRange(datetime.now(UTC), spec.since, step_size)
        data = dashquery.fetch_dashboard(board, client, window, variables, panels=[panel])
        shown = data.panels[0]
        if shown.error:
            return StepResult.failed(f"{panel.title}: {shown.error}", unreachable=shown.unreachable)
        return StepResult(
            Status.INFO,
            summarize(shown, spec.since),
            # The summary states every series' value in the panel's unit; a value of the
            # step's own (which the engine would print again, without that unit) only when
            # the runbook compares it with a threshold.
            value=shown.series[0].reduce(panel.reducer) if shown.series and step.threshold else None,
            data=shown.to_json(),
            panel=data,
        )


def summarize(shown: dashquery.PanelData, since: timedelta) -> str:
    """'Error %: last 15.2% (min 0.3%, max 15.4%) over 30m' for each series, the first three."""
    parts = []
    for series in shown.series[:3]:
        values = series.values
        if not values:
            continue
        low, high = (format_unit(v, series.unit, series.decimals) for v in (min(values), max(values)))
        last = format_unit(series.reduce(shown.panel.reducer), series.unit, series.decimals)
        parts.append(f"{series.name}: {last} (min {low}, max {high})")
    more = f"; {len(shown.series) - 3} more series" if len(shown.series) > 3 else ""
    return ("; ".join(parts) + more + f" over {to_prometheus(since)}") if parts else "no data"
