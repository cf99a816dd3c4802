"""A dashboard's panels queried from Prometheus: variables, Grafana's built-ins, in parallel.

- Time: `--since` is Grafana's time range ending now; the step defaults to about 120
  points across it, rounded up to a round interval, and never below a panel's own
  "Min interval". `$__range`, `$__interval` (the step), `$__rate_interval` (Grafana's
  max(step + scrape interval, 4 x scrape interval)) and their `_s`/`_ms` forms are filled in.
- Variables: `--var` first, else resolved as Grafana does (core/dashvars.py), written into
  queries as Grafana's Prometheus data source writes them (core/dashformat.py); then
  repeated panels and rows are expanded (core/dashrepeat.py).
- Every target of every panel is one query, sent from MAX_WORKERS threads at once (never
  more, however many panels), at most MAX_QUERIES per dashboard, so the whole dashboard
  takes about as long as its slowest queries. A panel whose query fails carries that
  one-line error; the others are unaffected. A panel with a note (a type not drawn,
  another data source) and a text panel send nothing.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from ditsops.base.durations import parse_duration, to_prometheus
from ditsops.base.errors import DitsopsError, UsageError
from ditsops.base.threads import start_background
from ditsops.core import dashvars
from ditsops.core.dashboards import Dashboard, Panel, Target
from ditsops.core.dashformat import Value, substitute
from ditsops.core.dashrepeat import expand
from ditsops.core.dashseries import SeriesData, bucket_bound, deaccumulate, describe, legend

__all__ = ["SeriesData", "bucket_bound", "legend", "substitute"]

if TYPE_CHECKING:
    from ditsops.clients.prometheus import PromResult

TARGET_POINTS = 120
ROUND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
DEFAULT_SCRAPE = timedelta(seconds=15)  # Grafana's default when the data source sets none
MAX_WORKERS = 16
R = TypeVar("R")
MAX_QUERIES = 1000


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
class PanelData:
    panel: Panel
    series: tuple[SeriesData, ...] = ()
    error: str | None = None
    queries: tuple[str, ...] = ()  # the expressions as sent
    unreachable: bool = False
    note: str | None = None  # not queried, and why (a type not drawn, another data source)

    @property
    def queried(self) -> bool:
        return self.note is None and bool(self.panel.targets)

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
            "note": self.note,
            **({"text": self.panel.content} if self.panel.type == "text" else {}),
        }


@dataclass(frozen=True)
class DashboardData:
    dashboard: Dashboard
    panels: tuple[PanelData, ...]
    time: TimeRange
    variables: Mapping[str, Value] = field(default_factory=dict)
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "dashboard": self.dashboard.title,
            "uid": self.dashboard.uid,
            "start": self.time.start.isoformat(),
            "end": self.time.end.isoformat(),
            "step": to_prometheus(self.time.step),
            "variables": {k: str(v) for k, v in self.variables.items()},
            "notes": list(self.notes),
            "rows": [
                {"title": section.title, "collapsed": section.collapsed}
                for index, section in enumerate(self.dashboard.sections)
                if index > 0
            ],
            "panels": [{**p.to_json(), "row": self.dashboard.sections[p.panel.row].title} for p in self.panels],
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
        "__rate_interval_ms": str(int(rate.total_seconds() * 1000)),
    }


@dataclass(frozen=True)
class Prepared:
    """A dashboard ready to query: variables resolved, repeats expanded, what was noted."""

    dashboard: Dashboard
    variables: dict[str, Value]
    notes: tuple[str, ...] = ()


def resolve_variables(
    dashboard: Dashboard,
    given: Mapping[str, str],
    client: PromQueries | None = None,
    window: TimeRange | None = None,
) -> dict[str, Value]:
    """A value for every variable (see core/dashvars.py); notes are dropped (prepare keeps them)."""
    return prepare(dashboard, given, client, window, expand_repeats=False).variables


def prepare(
    dashboard: Dashboard,
    given: Mapping[str, str],
    client: PromQueries | None = None,
    window: TimeRange | None = None,
    *,
    expand_repeats: bool = True,
) -> Prepared:
    known = {v.name for v in dashboard.variables}
    unknown = sorted(set(given) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise UsageError(f"dashboard {dashboard.title!r} has no variable {', '.join(unknown)} (variables: {names})")
    window = window or time_range("1h")
    # Without a Prometheus to ask (or a client without the label API), saved values stand.
    metadata = cast("dashvars.PromMetadata | None", client if hasattr(client, "label_values") else None)
    resolution = dashvars.resolve(
        dashboard.variables,
        given,
        metadata,
        window.start,
        window.end,
        {**builtins(window.since, window.step), **_edges(window)},
    )
    if not expand_repeats:
        return Prepared(dashboard, resolution.values, resolution.notes)
    expanded, notes = expand(dashboard, resolution.values)
    return Prepared(expanded, resolution.values, (*resolution.notes, *notes))


# ---------------------------------------------------------------- fetching


def fetch_dashboard(
    dashboard: Dashboard,
    client: PromQueries,
    window: TimeRange,
    variables: Mapping[str, Value],
    *,
    panels: Sequence[Panel] | None = None,
    scrape: timedelta = DEFAULT_SCRAPE,
    notes: Sequence[str] = (),
) -> DashboardData:
    started = time.monotonic()
    chosen = list(panels if panels is not None else dashboard.panels)
    jobs: list[tuple[int, Target, str, timedelta]] = []
    prepared: dict[int, str] = {}  # panel index -> the error that stopped it before any query
    for index, panel in enumerate(chosen):
        if panel.note is not None or panel.type == "text":
            continue
        if len(jobs) + len(panel.targets) > MAX_QUERIES:
            prepared[index] = f"not queried: the dashboard asks more than {MAX_QUERIES} queries"
            continue
        step = panel_step(panel, window.step)
        values: dict[str, Value] = {**builtins(window.since, step, scrape), **_edges(window)}
        values.update({**variables, **_scoped(panel)})
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
        if panel.note is not None:
            results.append(PanelData(panel, note=panel.note))
        elif index in prepared:
            results.append(PanelData(panel, error=prepared[index], queries=queries))
        else:
            results.append(_panel_data(panel, answers[index], queries))
    return DashboardData(dashboard, tuple(results), window, dict(variables), time.monotonic() - started, tuple(notes))


def _edges(window: TimeRange) -> dict[str, str]:
    """Grafana's $__from and $__to: the range's ends in epoch milliseconds."""
    return {"__from": str(int(window.start.timestamp() * 1000)), "__to": str(int(window.end.timestamp() * 1000))}


def _scoped(panel: Panel) -> dict[str, Value]:
    return dict(panel.scoped)


def _all_at_once(calls: Sequence[Callable[[], R]], limit: int) -> list[R]:
    """The calls on at most `limit` daemon threads, the results in order. Daemon threads, not
    a pool: a pool joins its workers on the way out, so an engineer's Ctrl-C would wait for
    every slow query to reach its deadline. A fixed number of workers, not a thread per call:
    a dashboard of 10,000 panels must not start 10,000 threads."""
    work: queue.SimpleQueue[tuple[Callable[[], R], Future[R]] | None] = queue.SimpleQueue()
    futures: list[Future[R]] = []
    for call in calls:
        future: Future[R] = Future()
        work.put((call, future))
        futures.append(future)
    workers = min(limit, len(calls))
    for _ in range(workers):
        work.put(None)

    def worker() -> None:
        while (item := work.get()) is not None:
            call, future = item
            try:
                future.set_result(call())
            except BaseException as error:  # noqa: BLE001 - handed to whoever takes the result
                future.set_exception(error)

    for _ in range(workers):
        start_background(worker, name="ditsops-dash")
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
        series.extend(deaccumulate(found) if target.format == "heatmap" else found)
    return PanelData(panel, tuple(series), queries=queries)


def _series(panel: Panel, target: Target, result: PromResult) -> list[SeriesData]:
    if result.result_type == "scalar":
        name = target.legend or target.ref_id
        point = ((time.time(), result.scalar if result.scalar is not None else math.nan),)
        return [SeriesData(name, {}, point, panel.unit_of(name), panel.decimals_of(name), target.ref_id)]
    found = []
    for item in result.series:
        points = item.points or ((time.time(), item.value if item.value is not None else math.nan),)
        name = legend(target.legend, item.labels) or describe(item.labels) or panel.title
        found.append(
            SeriesData(
                name, dict(item.labels), tuple(points), panel.unit_of(name), panel.decimals_of(name), target.ref_id
            )
        )
    return found
