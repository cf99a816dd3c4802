"""A dashboard's panels queried from Prometheus: variables, Grafana's built-ins, in parallel.

- Time: `--since` is Grafana's time range ending now; the step defaults to about 120
  points across it, rounded up to a round interval, and never below a panel's own
  "Min interval". `$__range`, `$__interval` (the step), `$__rate_interval` (Grafana's
  max(step + scrape interval, 4 x scrape interval)) and their `_s`/`_ms` forms are filled in.
- Variables (`$job`, `${job}`, `${job:raw}`, `[[job]]`): `--var` first, then the dashboard's
  current value, then its first option; a `label_values(...)` query variable with neither
  asks Prometheus for its values. Templates substitute values, never syntax: inside a quoted
  string the value is escaped for that quote; outside quotes only a number, a duration or
  a bare identifier may stand, anything else is refused with the variable's name.
- Every target of every panel is one query, all sent at once from a thread pool, so the
  whole dashboard takes about as long as its slowest query. A panel whose query fails
  carries that one-line error; the others are unaffected.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from ditsops.core.dashboards import Dashboard, Panel, Target, Variable
from ditsops.core.durations import parse_duration, to_prometheus
from ditsops.core.errors import DitsopsError, UsageError
from ditsops.core.promql import _quoted_spans, escape_string

if TYPE_CHECKING:
    from ditsops.clients.prometheus import PromResult

TARGET_POINTS = 120
ROUND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
DEFAULT_SCRAPE = timedelta(seconds=15)  # Grafana's default when the data source sets none
MAX_WORKERS = 16
R = TypeVar("R")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_BARE = re.compile(r"^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|(?:\d+(?:ms|s|m|h|d|w|y))+|[A-Za-z_][A-Za-z0-9_]*)$")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")


class PromQueries(Protocol):
    """What fetching needs of clients/prometheus.PrometheusClient."""

    def query(self, expr: str, at: datetime | None = None) -> PromResult: ...

    def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult: ...


@dataclass(frozen=True)
class TimeRange:
    end: datetime
    since: timedelta
    step: timedelta

    @property
    def start(self) -> datetime:
        return self.end - self.since


@dataclass(frozen=True)
class SeriesData:
    name: str  # the legend: legendFormat filled in, or the series' labels
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value); one point for an instant query
    unit: str
    decimals: int | None = None

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points if not math.isnan(v)]

    @property
    def last(self) -> float | None:
        values = self.values
        return values[-1] if values else None

    def reduce(self, calc: str) -> float | None:
        """Grafana's reduce calculation (lastNotNull, last, mean, max, min, sum, first...)."""
        values = self.values
        if not values:
            return None
        if calc in ("mean", "avg"):
            return sum(values) / len(values)
        reducers: dict[str, Callable[[list[float]], float]] = {
            "max": max,
            "min": min,
            "sum": sum,
            "first": lambda v: v[0],
            "firstNotNull": lambda v: v[0],
            "count": lambda v: float(len(v)),
            "range": lambda v: max(v) - min(v),
        }
        reducer = reducers.get(calc)
        return reducer(values) if reducer else values[-1]  # lastNotNull, last


@dataclass(frozen=True)
class PanelData:
    panel: Panel
    series: tuple[SeriesData, ...] = ()
    error: str | None = None
    queries: tuple[str, ...] = ()  # the expressions as sent
    unreachable: bool = False

    @property
    def value(self) -> float | None:
        """The panel's single value (stat, gauge): its first series reduced."""
        return self.series[0].reduce(self.panel.reducer) if self.series else None

    def to_json(self) -> dict[str, object]:
        single = self.panel.type in ("stat", "gauge")
        return {
            "title": self.panel.title,
            "type": self.panel.type,
            "unit": self.panel.unit,
            "value": self.value if single else None,
            "series": [
                {
                    "name": s.name,
                    "labels": dict(s.labels),
                    "unit": s.unit,
                    "value": s.reduce(self.panel.reducer),
                    "points": [[t, None if math.isnan(v) else v] for t, v in s.points],
                }
                for s in self.series
            ],
            "queries": list(self.queries),
            "error": self.error,
        }


@dataclass(frozen=True)
class DashboardData:
    dashboard: Dashboard
    panels: tuple[PanelData, ...]
    time: TimeRange
    variables: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "dashboard": self.dashboard.title,
            "uid": self.dashboard.uid,
            "start": self.time.start.isoformat(),
            "end": self.time.end.isoformat(),
            "step": to_prometheus(self.time.step),
            "variables": dict(self.variables),
            "panels": [p.to_json() for p in self.panels],
        }


# ---------------------------------------------------------------- time and variables


def time_range(since: str, step: str | None = None, end: datetime | None = None) -> TimeRange:
    try:
        window = parse_duration(since)
        resolution = parse_duration(step) if step else auto_step(window)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if window.total_seconds() <= 0 or resolution.total_seconds() <= 0:
        raise UsageError("--since and --step must be longer than zero")
    if window / resolution > 11000:  # Prometheus refuses more points per series than this
        raise UsageError(
            f"--step {step or to_prometheus(resolution)} gives too many points over {since}; use a larger step"
        )
    return TimeRange(end or datetime.now(UTC), window, resolution)


def auto_step(window: timedelta) -> timedelta:
    raw = window.total_seconds() / TARGET_POINTS
    return timedelta(seconds=next((s for s in ROUND_STEPS if s >= raw), math.ceil(raw)))


def panel_step(panel: Panel, base: timedelta) -> timedelta:
    if panel.interval:
        try:
            return max(base, parse_duration(panel.interval.lstrip(">")))
        except ValueError:
            return base
    return base


def builtins(window: timedelta, step: timedelta, scrape: timedelta = DEFAULT_SCRAPE) -> dict[str, str]:
    rate = max(step + scrape, 4 * scrape)
    seconds = int(window.total_seconds())
    return {
        "__range": to_prometheus(window),
        "__range_s": str(seconds),
        "__range_ms": str(seconds * 1000),
        "__interval": to_prometheus(step),
        "__interval_ms": str(int(step.total_seconds() * 1000)),
        "__rate_interval": to_prometheus(rate),
    }


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """`expr` with each known variable's value escaped for where it stands (see the module doc)."""
    spans = _quoted_spans(expr)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            return match.group(0)  # not a variable of this dashboard: Prometheus will say so
        value = values[name]
        quote = next((q for a, b, q in spans if a < match.start() and match.end() <= b), "")
        if quote in ('"', "'"):
            return escape_string(value, quote)
        if quote == "`":
            if "`" in value:
                raise UsageError(f"variable {name}: a value with a backtick cannot stand in a `...` string")
            return value
        if not _BARE.match(value):
            raise UsageError(
                f"variable {name}: {value!r} may not stand outside quotes in PromQL "
                "(only a number, a duration or a name may); refused"
            )
        return value

    return _VARIABLE.sub(replace, expr)


def resolve_variables(
    dashboard: Dashboard, given: Mapping[str, str], client: PromQueries | None = None
) -> dict[str, str]:
    """A value for every variable: --var, the dashboard's current value, its first option,
    or (label_values queries) the first value Prometheus knows."""
    known = {v.name for v in dashboard.variables}
    unknown = sorted(set(given) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise UsageError(f"dashboard {dashboard.title!r} has no variable {', '.join(unknown)} (variables: {names})")
    values: dict[str, str] = {}
    for variable in dashboard.variables:
        if variable.name in given:  # as given, even empty: `--var job=` means job="", not the default
            values[variable.name] = given[variable.name]
            continue
        value = variable.current or (variable.options[0] if variable.options else None)
        if value in (None, "$__all") and client is not None:
            value = _query_value(variable, client)
        if value is None:
            raise UsageError(f"variable {variable.name} has no value; give it with --var {variable.name}=VALUE")
        values[variable.name] = value
    return values


def _query_value(variable: Variable, client: PromQueries) -> str | None:
    match = _LABEL_VALUES.match(variable.query)
    if variable.type != "query" or not match:
        return None
    selector, label = match.group(1) or f'{{{match.group(2)}!=""}}', match.group(2)
    result = client.query(f"group by ({label}) ({selector})")
    found = sorted({s.labels.get(label, "") for s in result.series} - {""})
    return found[0] if found else None


# ---------------------------------------------------------------- fetching


def fetch_dashboard(
    dashboard: Dashboard,
    client: PromQueries,
    window: TimeRange,
    variables: Mapping[str, str],
    *,
    panels: Sequence[Panel] | None = None,
    scrape: timedelta = DEFAULT_SCRAPE,
) -> DashboardData:
    started = time.monotonic()
    chosen = list(panels if panels is not None else dashboard.panels)
    jobs: list[tuple[int, Target, str, timedelta]] = []
    prepared: dict[int, str] = {}  # panel index -> the error that stopped it before any query
    for index, panel in enumerate(chosen):
        step = panel_step(panel, window.step)
        values = {**builtins(window.since, step, scrape), **variables}
        try:
            jobs.extend((index, target, substitute(target.expr, values), step) for target in panel.targets)
        except DitsopsError as error:
            prepared[index] = error.message
    answers: dict[int, list[tuple[Target, PromResult | DitsopsError]]] = {i: [] for i in range(len(chosen))}
    if jobs:
        calls = [partial(_run, client, target, expr, window, step) for _, target, expr, step in jobs]
        for (index, target, _, _), answer in zip(jobs, _all_at_once(calls, MAX_WORKERS), strict=True):
            answers[index].append((target, answer))
    results = []
    for index, panel in enumerate(chosen):
        queries = tuple(expr for i, _, expr, _ in jobs if i == index)
        if index in prepared:
            results.append(PanelData(panel, error=prepared[index], queries=queries))
        else:
            results.append(_panel_data(panel, answers[index], queries))
    return DashboardData(dashboard, tuple(results), window, dict(variables), time.monotonic() - started)


def _all_at_once(calls: Sequence[Callable[[], R]], limit: int) -> list[R]:
    """Each call on its own daemon thread, at most `limit` running at once; the results in
    order. Daemon threads, not a pool: a pool joins its workers on the way out, so an
    engineer's Ctrl-C would wait for every slow query to reach its deadline."""
    gate = threading.BoundedSemaphore(limit)
    futures: list[Future[R]] = []
    for call in calls:
        future: Future[R] = Future()

        def run(call: Callable[[], R] = call, future: Future[R] = future) -> None:
            with gate:
                try:
                    future.set_result(call())
                except BaseException as error:  # noqa: BLE001 - handed to whoever takes the result
                    future.set_exception(error)

        threading.Thread(target=run, name="ditsops-dash", daemon=True).start()
        futures.append(future)
    return [future.result() for future in futures]


def _run(
    client: PromQueries, target: Target, expr: str, window: TimeRange, step: timedelta
) -> PromResult | DitsopsError:
    try:
        if target.instant:
            return client.query(expr, window.end)
        return client.query_range(expr, window.start, window.end, to_prometheus(step))
    except DitsopsError as error:
        return error


def _panel_data(
    panel: Panel, answers: list[tuple[Target, PromResult | DitsopsError]], queries: tuple[str, ...]
) -> PanelData:
    series: list[SeriesData] = []
    for target, answer in answers:
        if isinstance(answer, DitsopsError):
            first = (answer.message.splitlines() or ["query failed"])[0]
            unreachable = answer.exit_code == 4
            return PanelData(panel, error=first, queries=queries, unreachable=unreachable)
        found = _series(panel, target, answer)
        series.extend(_deaccumulate(found) if target.format == "heatmap" else found)
    return PanelData(panel, tuple(series), queries=queries)


def _series(panel: Panel, target: Target, result: PromResult) -> list[SeriesData]:
    if result.result_type == "scalar":
        name = target.legend or target.ref_id
        point = ((time.time(), result.scalar if result.scalar is not None else math.nan),)
        return [SeriesData(name, {}, point, panel.unit_of(name), panel.decimals_of(name))]
    found = []
    for item in result.series:
        points = item.points or ((time.time(), item.value if item.value is not None else math.nan),)
        name = legend(target.legend, item.labels) or _describe(item.labels) or panel.title
        found.append(SeriesData(name, dict(item.labels), tuple(points), panel.unit_of(name), panel.decimals_of(name)))
    return found


def legend(template: str, labels: Mapping[str, str]) -> str:
    """legendFormat with `{{label}}` filled from the series' labels (missing: empty)."""
    return re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def _describe(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}" if inner else name


def bucket_bound(series: SeriesData) -> float:
    text = series.labels.get("le", "")
    try:
        return float(text)
    except ValueError:
        return math.inf


def _deaccumulate(series: list[SeriesData]) -> list[SeriesData]:
    """Cumulative `le` buckets -> each bucket's own count (Grafana's format=heatmap), lowest first."""
    ordered = sorted(series, key=bucket_bound)
    out: list[SeriesData] = []
    below: dict[float, float] = {}
    for item in ordered:
        points = tuple((t, max(0.0, v - below.get(t, 0.0)) if not math.isnan(v) else v) for t, v in item.points)
        below = {t: v for t, v in item.points if not math.isnan(v)}
        out.append(SeriesData(item.name, item.labels, points, item.unit, item.decimals))
    return out
