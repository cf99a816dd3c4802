"""Grafana's dashboard behaviours, each isolated in a small dashboard and held against what
Grafana's documentation (cited in each test) and source say it does: variable syntax and
formats, query variables (regex, sort, current), chained variables, repeats, legacy rows,
data sources, panel types, layout, bounds. No services: a recording Prometheus double
(the same calls against a real Prometheus are in test_dash_corpus.py)."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ditsops.clients.prometheus import PromResult, Series
from ditsops.core import dashboards, dashquery
from ditsops.core.dashformat import VarValue, substitute
from ditsops.core.errors import UsageError
from ditsops.render.console import THEME
from ditsops.render.dash import render_dashboard

DOCS = "https://grafana.com/docs/grafana/latest/dashboards/variables/"


class Recorder:
    """Prometheus as the variable and panel queries see it; every call recorded."""

    def __init__(self, labels: dict[str, list[str]] | None = None, fail: str | None = None) -> None:
        self.labels = labels or {}
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.peak_threads = 0

    def _note(self, call: str, arg: Any) -> None:
        with self.lock:
            self.calls.append((call, arg))
            self.peak_threads = max(self.peak_threads, threading.active_count())

    def label_values(self, label: str, match: str | None, start: datetime, end: datetime) -> list[str]:
        self._note("label_values", (label, match))
        if self.fail and self.fail == label:
            raise UsageError("Prometheus: bad_data: 1:1: parse error")
        return list(self.labels.get(label, []))

    def label_names(self, match: str | None, start: datetime, end: datetime) -> list[str]:
        self._note("label_names", match)
        return sorted(self.labels)

    def query(self, expr: str, at: datetime | None = None) -> PromResult:
        self._note("query", expr)
        return PromResult("vector", [Series({"__name__": "up", "instance": "a:9100", "job": "node"}, 1.0)])

    def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult:
        self._note("query_range", expr)
        points = ((start.timestamp(), 1.0), (end.timestamp(), 2.0))
        return PromResult("matrix", [Series({"instance": "a"}, 2.0, points)])

    def exprs(self) -> list[str]:
        return [arg for call, arg in self.calls if call in ("query", "query_range")]


def board(panels: list[dict] | None = None, variables: list[dict] | None = None, **extra: Any) -> dashboards.Dashboard:
    document = {"title": "t", "panels": panels if panels is not None else [], **extra}
    document["templating"] = {"list": variables or []}
    return dashboards.parse(document)


def graph(title: str = "p", expr: str = "up", **extra: Any) -> dict:
    return {"type": "timeseries", "title": title, "targets": [{"expr": expr, "refId": "A"}], **extra}


def run(dashboard: dashboards.Dashboard, client: Recorder, given: dict[str, str] | None = None):
    window = dashquery.time_range("1h")
    ready = dashquery.prepare(dashboard, given or {}, client, window)
    return dashquery.fetch_dashboard(ready.dashboard, client, window, ready.variables, notes=ready.notes)


def draw(data: dashquery.DashboardData, width: int, expand: bool = False) -> str:
    out = io.StringIO()
    render_dashboard(Console(file=out, width=width, theme=THEME, color_system=None), data, expand)
    return out.getvalue()


def box_widths(text: str) -> list[int]:
    return [len(m.group(0)) for line in text.splitlines() for m in re.finditer(r"╭[^╮]*╮", line)]


# ---------------------------------------------------------------- variable syntax and formats


def test_every_variable_syntax_is_substituted() -> None:
    """variable-syntax: `$varname`, `${var_name}`, `${var_name:<format>}` and the deprecated
    `[[varname]]` all stand for the variable's value (DOCS + variable-syntax/)."""
    values = {"job": "api"}
    assert (
        substitute('a{j="$job",k="${job}",l="[[job]]",m="${job:raw}"}', values) == 'a{j="api",k="api",l="api",m="api"}'
    )


def test_a_multi_value_variable_is_regex_escaped_and_joined_as_an_alternation() -> None:
    """variable-syntax (multi-value formatting): Prometheus uses regex, so several values are
    interpolated as `(host1|host2|host3)`, each regex-escaped. Grafana's source agrees
    (public/app/plugins/datasource/prometheus/datasource.ts, interpolateQueryExpr:
    `'(' + escapedValues.join('|') + ')'`), not `{a|b|c}` as the issue wrote it; one value alone
    stands bare, escaped. Inside a double-quoted PromQL string the regex backslash is escaped
    for the string, as Grafana's `\\\\` does."""
    many = VarValue(("a.b", "c"), multi=True)
    assert substitute('up{i=~"$i"}', {"i": many}) == 'up{i=~"(a\\\\.b|c)"}'
    assert substitute('up{i=~"$i"}', {"i": VarValue(("a.b",), multi=True)}) == 'up{i=~"a\\\\.b"}'
    assert substitute('up{i="$i"}', {"i": "a.b"}) == 'up{i="a.b"}'  # neither multi nor include-all: as it is


def test_all_uses_the_custom_all_value_verbatim_else_every_option() -> None:
    """add-template-variables#include-all-option: "Custom all value": by default All is every
    value; a custom all value (often `.*`) is used as is, not escaped."""
    variable = {"name": "i", "type": "custom", "query": "a,b", "includeAll": True, "multi": True}
    variable["current"] = {"text": "All", "value": ["$__all"]}
    client = Recorder()
    run(board([graph(expr='up{i=~"$i"}')], [variable]), client)
    assert client.exprs() == ['up{i=~"(a|b)"}']
    client = Recorder()
    run(board([graph(expr='up{i=~"$i"}')], [{**variable, "allValue": ".*"}]), client)
    assert client.exprs() == ['up{i=~".*"}']


@pytest.mark.parametrize(
    ("fmt", "shown"),
    [
        ("regex", "(a\\.b|c)"),
        ("pipe", "a.b|c"),
        ("csv", "a.b,c"),
        ("raw", "a.b,c"),
        ("glob", "{a.b,c}"),
        ("json", '["a.b", "c"]'),
        ("queryparam", "var-i=a.b&var-i=c"),
    ],
)
def test_format_options_write_the_values_as_grafana_does(fmt: str, shown: str) -> None:
    """variable-syntax#advanced-variable-format-options: regex, pipe, csv, raw, glob, json,
    queryparam formats of a multi-value variable."""
    filled = substitute(f"x{{i=`${{i:{fmt}}}`}}", {"i": VarValue(("a.b", "c"), multi=True)})
    assert filled == f"x{{i=`{shown}`}}"


def test_a_value_never_becomes_promql_syntax() -> None:
    """A hostile label value chosen in a multi-value variable stays inside its string."""
    attack = VarValue(('x"} or vector(1) #',), multi=True)
    assert substitute('up{i=~"$i"}', {"i": attack}) == 'up{i=~"x\\"\\\\} or vector\\\\(1\\\\) #"}'
    with pytest.raises(UsageError, match="may not stand outside quotes"):
        substitute("sum by ($i) (up)", {"i": attack})


def test_global_variables_interval_rate_interval_and_range() -> None:
    """variables/add-template-variables#global-variables: $__interval, $__rate_interval,
    $__range and their _ms/_s forms."""
    client = Recorder()
    expr = "rate(x[$__rate_interval]) + $__range_s + $__interval_ms + $__range_ms"
    run(board([graph(expr=expr)]), client)
    assert client.exprs() == ["rate(x[1m]) + 3600 + 30000 + 3600000"]


# ---------------------------------------------------------------- query variables


def query_var(name: str, query: str, **extra: Any) -> dict:
    return {"name": name, "type": "query", "query": {"query": query, "refId": "v"}, "refresh": 1, **extra}


def test_label_values_with_a_selector_asks_the_label_values_api_with_match() -> None:
    """add-template-variables (Prometheus query variable): label_values(metric, label) returns
    the label's values for the metric's series; Grafana asks /api/v1/label/<label>/values with
    match[] (prometheus/metric_find_query.ts)."""
    client = Recorder({"job": ["node", "api"]})
    data = run(board([graph(expr='up{job="$job"}')], [query_var("job", "label_values(up, job)")]), client)
    assert ("label_values", ("job", "up")) in client.calls
    assert data.variables["job"] == "node"  # no saved current: the first option
    assert client.exprs() == ['up{job="node"}']


def test_chained_variables_are_resolved_in_dependency_order_and_substituted() -> None:
    """add-template-variables#chained-variables: a variable's query may use another's value; the
    one it depends on is resolved first, whatever their order in the list."""
    variables = [
        query_var("instance", 'label_values(up{job="$job"}, instance)'),
        query_var("job", "label_values(job)", current={"value": "api"}),
    ]
    client = Recorder({"job": ["node", "api"], "instance": ["i1"]})
    run(board([graph()], variables), client)
    assert ("label_values", ("instance", 'up{job="api"}')) in client.calls


def test_variables_in_a_cycle_are_refused_with_one_line(tmp_path: Path, isolated_home: object) -> None:
    """Chained variables (add-template-variables#chained-variables) cannot refer to each other
    in a circle: one line, exit 2, no traceback."""
    from tests.cli import run_cli

    variables = [query_var("a", 'label_values(up{x="$b"}, a)'), query_var("b", 'label_values(up{x="$a"}, b)')]
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps({"title": "c", "panels": [graph()], "templating": {"list": variables}}))
    result = run_cli("dash", str(path), env={"DITSOPS_PROMETHEUS_URL": "http://127.0.0.1:9"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ditsops: dashboard variables refer to each other in a cycle: a -> b -> a"
    ]


def test_regex_keeps_matching_values_and_their_capture_group() -> None:
    """add-template-variables#filter-variables-with-regex: values the regex does not match are
    left out; with a capture group the option is the captured text; named groups text/value."""
    client = Recorder({"instance": ["web-1:9100", "web-2:9100", "db-1:9100"]})
    variable = query_var("host", "label_values(instance)", regex="/(web-\\d+):.*/")
    data = run(board([graph()], [variable]), client)
    assert data.variables["host"] == "web-1"
    named = query_var("host", "label_values(instance)", regex="/(?<text>db-\\d+):(?<value>\\d+)/")
    assert run(board([graph()], [named]), client).variables["host"] == "9100"


@pytest.mark.parametrize(
    ("sort", "first"),
    [(0, "b10"), (1, "B2"), (2, "b9"), (3, "a1"), (4, "b10"), (5, "a1"), (6, "b9"), (7, "a1"), (8, "b10")],
)
def test_sort_orders_options_as_grafana_does(sort: int, first: str) -> None:
    """add-template-variables#sort: disabled, alphabetical (asc/desc), numerical (asc/desc),
    alphabetical case-insensitive (asc/desc), natural (asc/desc); with no saved choice the
    first option is selected."""
    client = Recorder({"x": ["b10", "a1", "B2", "b9"]})
    assert run(board([graph()], [query_var("x", "label_values(x)", sort=sort)]), client).variables["x"] == first


def test_the_saved_current_stays_when_still_an_option_else_the_first_option() -> None:
    """add-template-variables: the selected value is saved with the dashboard (`current`);
    Grafana keeps it while it is among the options and otherwise selects the first one."""
    client = Recorder({"job": ["a", "b"]})
    kept = query_var("job", "label_values(job)", current={"value": "b"})
    assert run(board([graph()], [kept]), client).variables["job"] == "b"
    gone = query_var("job", "label_values(job)", current={"value": "zzz"})
    assert run(board([graph()], [gone]), client).variables["job"] == "a"


def test_label_names_metrics_and_query_result() -> None:
    """add-template-variables (Prometheus): label_names(), metrics(regex), query_result(query)
    with a regex picking a part of each `name{labels} value timestamp` line."""
    client = Recorder({"__name__": ["node_load1", "up"], "job": ["x"]})
    variables = [
        query_var("names", "label_names()"),
        query_var("metric", "metrics(node_.*)"),
        query_var("inst", "query_result(up)", regex='/instance="([^"]+)"/'),
    ]
    values = run(board([graph()], variables), client).variables
    assert (values["names"], values["metric"], values["inst"]) == ("__name__", "node_load1", "a:9100")


def test_a_failing_or_empty_variable_leaves_the_value_empty_with_a_note_and_panels_draw() -> None:
    """A variable whose query fails (or finds nothing) does not stop the dashboard."""
    client = Recorder(fail="job")
    data = run(board([graph(expr='up{job="$job"}')], [query_var("job", "label_values(job)")]), client)
    assert data.variables["job"] == ""
    assert data.notes == ("variable job: Prometheus: bad_data: 1:1: parse error; left empty",)
    assert client.exprs() == ['up{job=""}'] and data.panels[0].error is None


def test_custom_interval_constant_textbox_adhoc_and_datasource_defaults() -> None:
    """add-template-variables: custom (comma-separated, `text : value`), interval (with auto:
    the range divided by auto_count, at least auto_min), constant, textbox, ad hoc filters,
    data source (the default data source of its type)."""
    variables = [
        {"name": "c", "type": "custom", "query": "Big : 10,small : 1"},
        {"name": "iv", "type": "interval", "query": "1m,5m", "auto": True, "auto_count": 30, "auto_min": "10s",
         "current": {"value": "$__auto_interval_iv"}},
        {"name": "k", "type": "constant", "query": "node"},
        {"name": "t", "type": "textbox", "query": "default", "current": {"value": "typed"}},
        {"name": "ad", "type": "adhoc"},
        {"name": "ds", "type": "datasource", "query": "prometheus"},
    ]  # fmt: skip
    client = Recorder()
    data = run(board([graph(expr='topk($c, rate(x{k="$k",t="$t"}[$iv]))')], variables), client)
    assert client.exprs() == ['topk(10, rate(x{k="node",t="typed"}[2m]))']  # 1h / 30 = 2m
    assert data.variables["ds"] == "Prometheus" and data.variables["ad"] == ""


def test_var_still_overrides_and_all_can_be_chosen() -> None:
    client = Recorder({"job": ["a", "b"]})
    variable = query_var("job", "label_values(job)", includeAll=True, multi=True)
    run(board([graph(expr='up{job=~"$job"}')], [variable]), client, {"job": "All"})
    assert client.exprs() == ['up{job=~"(a|b)"}']


# ---------------------------------------------------------------- repeats


def custom_multi(name: str, values: str, current: list[str]) -> dict:
    return {"name": name, "type": "custom", "query": values, "multi": True, "current": {"value": current}}


def test_a_repeated_panel_is_drawn_once_per_selected_value_side_by_side() -> None:
    """panels-visualizations/configure-panel-options#configure-repeating-panels: one panel per
    selected value, the value bound in each; direction horizontal, maxPerRow wrapping; the
    title's `$var` shows the value."""
    panel = graph("Load ($host)", 'up{host=~"$host"}', repeat="host", repeatDirection="h", maxPerRow=2)
    panel["gridPos"] = {"x": 0, "y": 0, "w": 24, "h": 6}
    client = Recorder()
    data = run(board([panel], [custom_multi("host", "a,b,c", ["a", "b", "c"])]), client)
    assert [p.panel.title for p in data.panels] == ["Load (a)", "Load (b)", "Load (c)"]
    assert sorted(client.exprs()) == ['up{host=~"a"}', 'up{host=~"b"}', 'up{host=~"c"}']
    assert [(p.panel.grid.x, p.panel.grid.y, p.panel.grid.w) for p in data.panels] == [
        (0, 0, 12),
        (12, 0, 12),
        (0, 6, 12),
    ]


def test_a_vertical_repeat_stacks_and_a_repeated_row_copies_its_panels() -> None:
    """configure-repeating-panels (direction vertical) and dashboards/build-dashboards/
    create-dashboard#configure-repeating-rows: a row repeated for each value, with its panels."""
    panel = graph("v $host", repeat="host", repeatDirection="v", gridPos={"x": 0, "y": 0, "w": 8, "h": 4})
    data = run(board([panel], [custom_multi("host", "a,b", ["a", "b"])]), Recorder())
    assert [(p.panel.grid.y, p.panel.grid.w) for p in data.panels] == [(0, 8), (4, 8)]
    row = {"type": "row", "title": "Host $host", "repeat": "host", "collapsed": False, "gridPos": {"y": 0}}
    child = graph("cpu on $host", 'up{h="$host"}', gridPos={"x": 0, "y": 1, "w": 24, "h": 4})
    client = Recorder()
    data = run(board([row, child], [custom_multi("host", "a,b", ["a", "b"])]), client)
    assert [s.title for s in data.dashboard.sections] == ["", "Host a", "Host b"]
    assert [p.panel.title for p in data.panels] == ["cpu on a", "cpu on b"]
    assert sorted(client.exprs()) == ['up{h="a"}', 'up{h="b"}']
    assert [p["row"] for p in data.to_json()["panels"]] == ["Host a", "Host b"]


# ---------------------------------------------------------------- legacy rows, data sources, types


def test_the_legacy_rows_schema_is_migrated_as_grafanas_importer_does() -> None:
    """Grafana imports dashboards of the old `rows` schema (DashboardMigrator.upgradeToGridLayout):
    spans of 12 become widths of 24, row heights in pixels grid units of 38 px, panels flow left
    to right; titled rows become row panels, collapsed ones keeping their panels."""
    document = {
        "title": "old",
        "schemaVersion": 14,
        "rows": [
            {
                "title": "A",
                "showTitle": True,
                "height": "250px",
                "panels": [graph("one", span=6), graph("two", span=6)],
            },
            {"title": "B", "collapse": True, "height": 300, "panels": [graph("three", span=12)]},
        ],
    }
    dashboard = dashboards.parse(document)
    grids = {p.title: (p.grid.x, p.grid.y, p.grid.w, p.grid.h) for p in dashboard.panels}
    assert grids == {"one": (0, 1, 12, 7), "two": (12, 1, 12, 7), "three": (0, 9, 24, 8)}
    assert [(s.title, s.collapsed) for s in dashboard.sections] == [("", False), ("A", False), ("B", True)]


def test_a_panel_on_another_data_source_says_so_in_its_box_and_the_rest_draws() -> None:
    """dashboards/variables/add-template-variables#add-a-data-source-variable and
    datasources/: a panel's data source may be of another type; ditsops knows Prometheus only."""
    variables = [{"name": "ds", "type": "datasource", "query": "prometheus"}]
    panels = [
        graph("logs", '{app="x"} |= "err"', datasource={"type": "loki", "uid": "L"}),
        graph("by var", "up", datasource="${ds}"),
        graph("input", "up", datasource="${DS_LOKI}"),
    ]
    inputs = [{"name": "DS_LOKI", "pluginId": "loki", "type": "datasource"}]
    client = Recorder()
    data = run(board(panels, variables, __inputs=inputs), client)
    notes = {p.panel.title: p.note for p in data.panels}
    assert notes == {
        "logs": "Loki datasource: not configured",
        "by var": None,
        "input": "Loki datasource: not configured",
    }
    assert client.exprs() == ["up"]
    loki_var = query_var("app", "label_values(app)", datasource={"type": "loki", "uid": "L"})
    data = run(board([graph()], [loki_var]), Recorder())
    assert data.notes == ("variable app: Loki datasource: not configured; left empty",)
    assert "Loki datasource: not configured" in draw(run(board(panels, variables, __inputs=inputs), Recorder()), 120)


def test_text_panels_show_their_markdown_and_other_types_say_they_are_not_drawn() -> None:
    """panels-visualizations/visualizations/text: Markdown content; a visualization ditsops does
    not draw is named in its box, not shown as 'no data'."""
    text = {
        "type": "text",
        "title": "About",
        "options": {"mode": "markdown", "content": "# Hello\n\n* **one** [docs](https://x)"},
    }
    logs = {"type": "logs", "title": "Logs", "targets": [{"expr": "up"}]}
    client = Recorder()
    data = run(board([text, logs]), client)
    shown = draw(data, 80)
    assert "Hello" in shown and "• one docs (https://x)" in shown and "**" not in shown
    assert "panel type logs: not drawn in the terminal" in shown
    assert client.exprs() == []
    assert data.to_json()["panels"][0]["text"].startswith("# Hello")


def test_transformations_not_applied_are_named() -> None:
    """panels-visualizations/query-transform-data/transform-data: organize is applied, others named."""
    panel = graph("t", transformations=[{"id": "merge"}, {"id": "organize", "options": {}}, {"id": "reduce"}])
    assert "transformations not applied: merge, reduce" in draw(run(board([panel]), Recorder()), 80)


# ---------------------------------------------------------------- layout


def test_rows_are_section_titles_and_collapsed_rows_stay_shut_unless_expanded() -> None:
    """dashboards/build-dashboards/create-dashboard#group-panels-by-row: rows group panels under
    a title; a collapsed row shows only its title. Its panels keep their own (stale) y and are
    never mixed into another row."""
    panels = [
        {"type": "row", "title": "Open", "collapsed": False, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}},
        graph("first", gridPos={"x": 0, "y": 1, "w": 12, "h": 4}),
        {"type": "row", "title": "Shut", "collapsed": True, "gridPos": {"x": 0, "y": 5, "w": 24, "h": 1},
         "panels": [graph("hidden", gridPos={"x": 12, "y": 1, "w": 12, "h": 4})]},
    ]  # fmt: skip
    data = run(board(panels), Recorder())
    shut = draw(data, 160)
    assert "▾ Open" in shut and "▸ Shut  1 panel, collapsed (--expand to open)" in shut
    assert "hidden" not in shut
    opened = draw(data, 160, expand=True).splitlines()
    row_of_first = next(i for i, line in enumerate(opened) if "first" in line)
    assert "hidden" not in opened[row_of_first]  # under its own row title, not beside "first"
    assert any("hidden" in line for line in opened[row_of_first:])


def test_no_box_is_narrower_than_ten_columns_and_titles_are_cut_with_an_ellipsis() -> None:
    """24 one-column panels side by side (gridPos.w = 1) at 160 columns: Grafana's grid has 24
    columns; in a terminal a box narrower than 10 is unreadable, so the line wraps."""
    panels = [graph(f"a rather long panel title {i}", gridPos={"x": i, "y": 0, "w": 1, "h": 3}) for i in range(24)]
    shown = draw(run(board(panels), Recorder()), 160)
    widths = box_widths(shown)
    assert len(widths) == 24 and min(widths) >= 10
    assert all(len(line) <= 160 for line in shown.splitlines())
    assert "a rat…" in shown


def test_the_gauge_footer_stays_readable_in_a_narrow_box() -> None:
    """The gauge's min and its share of max never run together (`0.0%56% of …` was seen)."""
    gauge = graph("g", gridPos={"x": 0, "y": 0, "w": 2, "h": 6}, type="gauge")
    gauge["fieldConfig"] = {"defaults": {"unit": "percent", "min": 0, "max": 100}}
    shown = draw(run(board([gauge, graph(gridPos={"x": 2, "y": 0, "w": 22, "h": 6})]), Recorder()), 160)
    footer = next(line for line in shown.splitlines() if "% of" in line)
    assert not re.search(r"%\d", footer)


# ---------------------------------------------------------------- bounds


def test_hostile_geometry_and_counts_are_bounded() -> None:
    """gridPos.h = 1e9 grew a dashboard to 23.8 GB; now clamped. 10,000 panels are refused in
    one line; 600 panels' queries run on at most 16 threads, not one thread each."""
    huge = graph(gridPos={"x": -5, "y": 1e300, "w": 1e9, "h": 1e9})
    panel = board([huge]).panels[0]
    assert (panel.grid.x, panel.grid.w, panel.grid.h) == (0, 24, dashboards.MAX_PANEL_HEIGHT)
    with pytest.raises(UsageError, match="10000 panels; ditsops draws at most 500"):
        board([graph() for _ in range(10_000)])
    client = Recorder()
    before = threading.active_count()
    run(board([graph(expr=f"up{i}") for i in range(400)]), client)
    assert len(client.exprs()) == 400
    assert client.peak_threads - before <= dashquery.MAX_WORKERS


def test_a_dashboard_with_some_failing_panels_still_comes_out() -> None:
    """A panel whose query fails shows its error; the others draw (exit 0 in the command)."""
    client = Recorder()
    good, bad = graph("good", "up"), graph("bad", "sum by ($x) (up)")
    variables = [{"name": "x", "type": "textbox", "query": "a b"}]
    data = run(board([good, bad], variables), client)
    assert [p.error is None for p in data.panels] == [True, False]
    from ditsops.cli.dash import _exit_code

    assert _exit_code(data) == 0
