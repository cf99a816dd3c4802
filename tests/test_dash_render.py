"""`ditsops dash` without services: the shipped dashboards are importable Grafana JSON, units
read as Grafana shows them, variables substitute values and never syntax, panels are
fetched in parallel with each failure kept to its panel, and the renderer draws every panel
side by side at a wide terminal and stacked at a narrow one."""

from __future__ import annotations

import io
import json
import math
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from ditsops.base.errors import TargetError, TargetUnreachable, UsageError
from ditsops.clients.prometheus import PromResult, Series
from ditsops.core import dashboards, dashquery
from ditsops.core.dashunits import format_unit
from ditsops.render.console import THEME
from ditsops.render.dash import render_dashboard
from ditsops.sandbox.simmodel import DitsModel

ROOT = Path(__file__).resolve().parent.parent
GRAFANA_PANEL_TYPES = {"timeseries", "graph", "stat", "gauge", "piechart", "heatmap", "table"}
UNITS_WITH_GRAFANA_IDS = {"reqps", "percent", "s", "Bps", "short", "decbytes", "ops", "cps", "currencyUSD"}


def shipped() -> list[tuple[str, dict]]:
    return [(name, json.loads((ROOT / "dashboards" / f"{name}.json").read_text())) for name in dashboards.SHIPPED]


# ---------------------------------------------------------------- Grafana import structure


@pytest.mark.parametrize(("name", "document"), shipped(), ids=[n for n, _ in shipped()])
def test_the_dashboard_json_has_what_grafana_needs_to_import_it(name: str, document: dict) -> None:
    assert document["__inputs"] == [
        {
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "The Prometheus that scrapes dits-server",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }
    ]
    assert document["uid"] == f"dits-{name}" and len(document["uid"]) <= 40
    assert document["title"].startswith("Dits ") and isinstance(document["schemaVersion"], int)
    required = {(r["type"], r["id"]) for r in document["__requires"]}
    assert ("datasource", "prometheus") in required
    declared = {v["name"] for v in document["templating"]["list"]}
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    for panel in document["panels"]:
        where = f"{name}/{panel['title']}"
        assert panel["type"] in GRAFANA_PANEL_TYPES and ("panel", panel["type"]) in required, where
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"} and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, where
        cells = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{where} overlaps another panel"
        occupied |= cells
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, where
        assert panel["description"].count("Corrected:") == 1, f"{where}: say what was corrected"
        unit = panel["fieldConfig"]["defaults"]["unit"]
        assert unit in UNITS_WITH_GRAFANA_IDS or unit.startswith("suffix:"), where
        if panel["type"] in ("stat", "gauge"):
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps[0]["value"] is None and all(isinstance(s["value"], (int, float)) for s in steps[1:]), where
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}" and target["refId"] and target["expr"], where
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval", "__range", "__interval"}
            assert used <= declared, f"{where} uses undeclared variables {used - declared}"
            assert "1e12" not in target["expr"], f"{where}: bytes carry a unit, not a division"


def test_the_error_rate_panel_sums_both_sides_as_the_alert_rule_does() -> None:
    expr = dashboards.load("overview").panel("Error Rate").targets[0].expr
    numerator, denominator = expr.split(" / ")
    assert numerator.startswith("100 * sum(rate(") and denominator.startswith("sum(rate(")


# ---------------------------------------------------------------- units and variables


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (15.234, "percent", "15.2%"),
        (0.152, "percentunit", "15.2%"),
        (126e12, "decbytes", "126 TB"),
        (2.5 * 2**40, "bytes", "2.50 TiB"),
        (0.0453, "s", "45.3 ms"),
        (400, "s", "6.67 min"),
        (12, "ms", "12 ms"),
        (40.2, "reqps", "40.2 req/s"),
        (15.3e6, "Bps", "15.3 MB/s"),
        (1140.5, "currencyUSD", "$1.14K"),
        (2.7, "suffix:×", "2.70×"),
        (3.5e6, "short", "3.50 Mil"),
        (float("nan"), "percent", "NaN"),
        (None, "s", "–"),
    ],
)
def test_units_read_as_grafana_shows_them(value: float | None, unit: str, shown: str) -> None:
    assert format_unit(value, unit) == shown


def test_variables_are_values_escaped_for_their_quote_never_syntax() -> None:
    expr = 'sum(rate(x{job="$job"}[$__rate_interval])) by (${label})'
    attack = 'dits"} or vector(1) or x{a="'
    filled = dashquery.substitute(expr, {"job": attack, "__rate_interval": "1m", "label": "path"})
    assert filled == 'sum(rate(x{job="dits\\"} or vector(1) or x{a=\\""}[1m])) by (path)'
    with pytest.raises(UsageError, match="variable label: .* may not stand outside quotes"):
        dashquery.substitute(expr, {"job": "x", "__rate_interval": "1m", "label": "path) or vector(1"})


def test_rate_interval_follows_grafana_and_the_step_fits_about_120_points() -> None:
    window = dashquery.time_range("1h")
    assert window.step == timedelta(seconds=30)
    assert dashquery.builtins(window.since, window.step)["__rate_interval"] == "1m"  # max(30s + 15s, 4 x 15s)
    assert (
        dashquery.builtins(timedelta(days=1), timedelta(minutes=15))["__rate_interval"] == "915s"
    )  # max(15m + 15s, 1m)
    with pytest.raises(UsageError):
        dashquery.time_range("1h", "0s")


def test_unknown_variables_and_dashboards_are_one_line_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="has no variable nope"):
        dashquery.resolve_variables(dashboards.load("overview"), {"nope": "1"})
    with pytest.raises(UsageError, match="no dashboard 'nope'"):
        dashboards.load("nope")
    broken = tmp_path / "broken.json"
    broken.write_text('{"panels": [}')
    with pytest.raises(UsageError, match=r"broken.json:1: not JSON"):
        dashboards.load(str(broken))


# ---------------------------------------------------------------- fetching


class FakePrometheus:
    """Answers every query with one series, after all `parties` queries have arrived: a
    dashboard fetched one query at a time would never get past the first (the barrier
    breaks after its timeout and that query fails)."""

    def __init__(self, parties: int, fail: str | None = None) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.fail = fail
        self.exprs: list[str] = []

    def _wait(self, expr: str) -> None:
        self.exprs.append(expr)
        self.barrier.wait()
        if self.fail and self.fail in expr:
            raise TargetError("Prometheus: bad_data: parse error at char 3")

    def query(self, expr: str, at: datetime | None = None) -> PromResult:
        self._wait(expr)
        return PromResult("vector", [Series({"query": "SELECT 1"}, 0.8)])

    def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult:
        self._wait(expr)
        points = tuple((start.timestamp() + i * 30, float(i % 7)) for i in range(120))
        return PromResult("matrix", [Series({"le": "0.5"}, points[-1][1], points)])


def test_every_query_of_a_dashboard_is_in_flight_at_once_and_a_failure_stays_in_its_panel() -> None:
    board = dashboards.load("overview")
    queries = sum(len(p.targets) for p in board.panels)
    client = FakePrometheus(queries, fail="dits_locks_active")
    data = dashquery.fetch_dashboard(board, client, dashquery.time_range("1h"), {"job": "dits-server"})
    assert len(client.exprs) == queries
    errors = {p.panel.title: p.error for p in data.panels if p.error}
    assert errors == {"Active Locks": "Prometheus: bad_data: parse error at char 3"}
    assert all(p.series for p in data.panels if not p.error)
    assert all('job="dits-server"' in e and "$" not in e for e in client.exprs)


def test_heatmap_buckets_are_counted_each_on_its_own() -> None:
    board = dashboards.load("database")
    panel = board.panel("Query Latency")

    class Buckets:
        def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult:
            cumulative = {"0.01": 5.0, "0.1": 8.0, "+Inf": 9.0}
            return PromResult("matrix", [Series({"le": k}, v, ((1.0, v),)) for k, v in cumulative.items()])

        def query(self, expr: str, at: datetime | None = None) -> PromResult:
            raise AssertionError("a heatmap is a range query")

    data = dashquery.fetch_dashboard(board, Buckets(), dashquery.time_range("1h"), {"job": "x"}, panels=[panel])
    assert [(s.name, s.points[0][1]) for s in data.panels[0].series] == [("0.01", 5.0), ("0.1", 3.0), ("+Inf", 1.0)]


# ---------------------------------------------------------------- rendering


def sample(name: str, error_panel: str | None = None) -> dashquery.DashboardData:
    board = dashboards.load(name)
    end = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    window = dashquery.TimeRange(end, timedelta(hours=1), timedelta(seconds=30))
    panels = []
    for panel in board.panels:
        if panel.title == error_panel:
            panels.append(dashquery.PanelData(panel, error="cannot reach Prometheus at http://prom:9090"))
            continue
        series = []
        for number, target in enumerate(panel.targets):
            labels = {"le": str(0.01 * 10**number), "query": f"SELECT {number}"}
            points = tuple((window.start.timestamp() + i * 30, 10 + 5 * math.sin(i / 10 + number)) for i in range(121))
            series.append(dashquery.SeriesData(target.legend or f"s{number}", labels, points, panel.unit))
        panels.append(dashquery.PanelData(panel, tuple(series)))
    return dashquery.DashboardData(board, tuple(panels), window, {"job": "dits-server"})


def draw(data: dashquery.DashboardData, width: int) -> str:
    out = io.StringIO()
    render_dashboard(Console(file=out, width=width, theme=THEME, color_system=None), data)
    return out.getvalue()


@pytest.mark.parametrize("name", dashboards.SHIPPED)
@pytest.mark.parametrize("width", [80, 160])
def test_every_panel_title_is_drawn_within_the_width(name: str, width: int) -> None:
    data = sample(name)
    text = draw(data, width)
    for panel in data.panels:
        assert panel.panel.title in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_wide_terminals_put_a_grid_row_side_by_side_and_narrow_ones_stack_it() -> None:
    def line_with_both(text: str) -> bool:
        return any("Request Rate" in line and "Error Rate" in line for line in text.splitlines())

    assert line_with_both(draw(sample("overview"), 160))
    assert not line_with_both(draw(sample("overview"), 80))


def test_a_failed_panel_shows_its_error_and_the_others_still_render() -> None:
    text = draw(sample("overview", error_panel="Error Rate"), 160)
    assert "✖ cannot reach Prometheus at http://prom:9090" in text
    assert "last 15.0 req/s" in text or "req/s" in text
    assert "⣀" in text or "⠉" in text or "⠒" in text  # the other charts were drawn


def test_a_chart_carries_min_max_last_with_units_and_a_time_axis() -> None:
    text = draw(sample("overview"), 160)
    assert re.search(r"● Error %\s+min 5\.0\d?%\s+max 15\.0%\s+last \d+\.\d%", text), text
    assert "02:30" in text or "03:00" in text or re.search(r"\d\d:\d\d", text)


def test_stat_gauge_pie_heatmap_and_table_each_draw_their_shape() -> None:
    overview, storage, database = (draw(sample(n), 160) for n in dashboards.SHIPPED)
    assert "┏" in overview and "% of 200 TB" in overview  # big digits; the gauge's bar against its max
    assert re.search(r"Hot\s+█+.*\d+\.\d%", storage)  # a proportional bar with its share
    assert "≤10 ms┤" in database  # a bucket on the heatmap's axis, in the bucket unit
    assert "Slowest run" in database and "SELECT 0" in database  # the renamed column, a row


# ---------------------------------------------------------------- the simulator's dashboard metrics


def rate_of(name: str, faults: frozenset[str]) -> float:
    start = time.time()
    model = DitsModel(start)
    before = _sample(model.render(), name)
    model.advance(start + 10, faults)
    return (_sample(model.render(), name) - before) / 10


def _sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not exported"
    return float(match.group(1))


def test_the_simulator_exports_every_dashboard_metric_and_they_move_under_faults() -> None:
    model = DitsModel(time.time())
    text = model.render()
    for board in (dashboards.load(n) for n in dashboards.SHIPPED):
        for panel in board.panels:
            for target in panel.targets:
                for metric in set(re.findall(r"\b(dits_\w+?)(?:_bucket)?\{", target.expr)):
                    assert f"# TYPE {metric} " in text, f"{board.title}/{panel.title}: {metric} not exported"
    tiers = sum(_sample(text, "dits_chunks_size_bytes", f'{{tier="{t}"}}') for t in ("hot", "warm", "cold"))
    assert tiers == pytest.approx(_sample(text, "dits_chunks_stored") * 2.5 * 2**20, rel=1e-9)
    assert rate_of("dits_bytes_uploaded_total", frozenset({"large-upload"})) > 20 * rate_of(
        "dits_bytes_uploaded_total", frozenset()
    )
    model.advance(time.time() + 1, frozenset({"db-exhaustion"}))
    slow = re.findall(r"^dits_db_slow_query_duration_seconds\{.*\} (\S+)$", model.render(), re.MULTILINE)
    assert len(slow) == 12 and max(map(float, slow)) > 2.0


def test_unreachable_prometheus_fails_every_panel_with_its_reason() -> None:
    class Down:
        def query(self, expr: str, at: datetime | None = None) -> PromResult:
            raise TargetUnreachable("cannot reach Prometheus at http://127.0.0.1:9: Connection refused")

        def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult:
            return self.query(expr)

    board = dashboards.load("database")
    data = dashquery.fetch_dashboard(board, Down(), dashquery.time_range("5m"), {"job": "x"})
    assert all(p.unreachable and "Connection refused" in (p.error or "") for p in data.panels)


@pytest.mark.parametrize("name", dashboards.SHIPPED)
@pytest.mark.parametrize(
    "odd", [math.inf, -math.inf, math.nan, 1e308, -1e308], ids=["+Inf", "-Inf", "NaN", "1e308", "-1e308"]
)
def test_values_at_and_beyond_the_float_limits_draw_like_any_other(name: str, odd: float) -> None:
    # A ratio divided by zero is +Inf (or NaN), a counter gone wild nears 1e308: every
    # panel kind still draws, the odd value shown for what it is, the others as usual.
    data = sample(name)
    panels = []
    for panel in data.panels:
        series = [
            dashquery.SeriesData(
                s.name, s.labels, (*s.points[:-2], (s.points[-2][0], -odd), (s.points[-1][0], odd)), s.unit
            )
            for s in panel.series
        ]
        panels.append(dashquery.PanelData(panel.panel, tuple(series)))
    text = draw(dashquery.DashboardData(data.dashboard, tuple(panels), data.time, data.variables), 120)
    for panel in data.panels:
        assert panel.panel.title in text


def test_a_variable_given_empty_is_empty_not_the_dashboards_default() -> None:
    board = dashboards.load("overview")
    assert dashquery.resolve_variables(board, {"job": ""}) == {"job": ""}
    assert dashquery.resolve_variables(board, {})["job"] == "dits-server"


def test_a_step_too_fine_is_named_as_given() -> None:
    with pytest.raises(UsageError, match="--step 1ms gives too many points"):
        dashquery.time_range("1h", "1ms")
