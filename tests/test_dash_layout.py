"""Grafana's dashboard behaviours beyond variables, each isolated in a small dashboard and held
against Grafana's documentation (cited in each test): repeated panels and rows, the legacy
rows schema, data sources other than Prometheus, text and undrawn panel types, rows and
layout in a terminal, and the bounds on hostile dashboards."""

from __future__ import annotations

import re
from datetime import datetime

from ditsops.clients.prometheus import PromResult, Series
from ditsops.core import dashboards
from tests.dash_fixtures import Recorder, board, box_widths, draw, graph, query_var, run

# ---------------------------------------------------------------- repeats


def custom_multi(name: str, values: str, current: list[str]) -> dict:
    return {"name": name, "type": "custom", "query": values, "multi": True, "current": {"value": current}}


def test_a_repeated_panel_is_drawn_once_per_selected_value_side_by_side() -> None:
    """https://grafana.com/docs/grafana/latest/panels-visualizations/configure-panel-options#configure-repeating-panels

    one panel per
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
    assert data.to_json()["rows"] == [{"title": "Host a", "collapsed": False}, {"title": "Host b", "collapsed": False}]


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
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables#add-a-data-source-variable

    and
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
    """https://grafana.com/docs/grafana/latest/panels-visualizations/visualizations/text

    Markdown content; a visualization ditsops does
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
    """https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/transform-data

    organize is applied, others named."""
    panel = graph("t", transformations=[{"id": "merge"}, {"id": "organize", "options": {}}, {"id": "reduce"}])
    assert "transformations not applied: merge, reduce" in draw(run(board([panel]), Recorder()), 80)


# ---------------------------------------------------------------- layout


def test_rows_are_section_titles_and_collapsed_rows_stay_shut_unless_expanded() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/create-dashboard#group-panels-by-row

    rows group panels under
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
    """https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/create-dashboard/

    (panel size: the
    24-column grid): 24 one-column panels side by side (gridPos.w = 1) at 160 columns: Grafana's grid has 24
    columns; in a terminal a box narrower than 10 is unreadable, so the line wraps."""
    panels = [graph(f"a rather long panel title {i}", gridPos={"x": i, "y": 0, "w": 1, "h": 3}) for i in range(24)]
    shown = draw(run(board(panels), Recorder()), 160)
    widths = box_widths(shown)
    assert len(widths) == 24 and min(widths) >= 10
    assert all(len(line) <= 160 for line in shown.splitlines())
    assert "a rat…" in shown


def test_the_gauge_footer_stays_readable_in_a_narrow_box() -> None:
    """https://grafana.com/docs/grafana/latest/panels-visualizations/visualizations/gauge/

    the gauge's min and its share of max never run together (`0.0%56% of …` was seen)."""
    gauge = graph("g", gridPos={"x": 0, "y": 0, "w": 2, "h": 6}, type="gauge")
    gauge["fieldConfig"] = {"defaults": {"unit": "percent", "min": 0, "max": 100}}
    shown = draw(run(board([gauge, graph(gridPos={"x": 2, "y": 0, "w": 22, "h": 6})]), Recorder()), 160)
    assert not re.search(r"%\d", shown)  # never `0.0%56%`
    wide = draw(run(board([gauge]), Recorder()), 80)
    assert re.search(r"│ 0\.0% +\d+% of 100\.0% │", wide)  # with room: both ends, apart


class TableAnswers(Recorder):
    """Instant answers by query: cpu and memory per namespace."""

    def query(self, expr: str, at: datetime | None = None) -> PromResult:
        self._note("query", expr)
        values = {"cpu": {"ns1": 1.5, "ns2": 2.5}, "mem": {"ns1": 100.0, "ns2": 200.0}}[
            "cpu" if "cpu" in expr else "mem"
        ]
        return PromResult("vector", [Series({"namespace": ns, "job": "kubelet"}, v) for ns, v in values.items()])


def table_panel(transformations: list[dict]) -> dict:
    targets = [
        {"expr": "sum by (namespace) (cpu)", "refId": "A", "format": "table", "instant": True},
        {"expr": "sum by (namespace) (mem)", "refId": "B", "format": "table", "instant": True},
    ]
    return {"type": "table", "title": "By namespace", "targets": targets, "transformations": transformations}


def test_merge_then_organize_joins_the_queries_of_a_table_as_grafana_does() -> None:
    """https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/transform-data/#merge

    Merge joins the queries' tables on their labels, one `Value #A` column per query; organize
    fields then renames (`renameByName`) and hides (`excludeByName`) columns."""
    organize = {
        "id": "organize",
        "options": {"excludeByName": {"job": True}, "renameByName": {"Value #A": "CPU", "Value #B": "Memory"}},
    }  # noqa: E501
    shown = draw(run(board([table_panel([{"id": "merge"}, organize])]), TableAnswers()), 80)
    rows = [line.strip("│ ").split() for line in shown.splitlines() if "ns" in line or "CPU" in line]
    assert rows == [["namespace", "CPU", "Memory"], ["ns1", "1.50", "100"], ["ns2", "2.50", "200"]]


def test_reduce_turns_each_series_into_a_row_of_its_calculations() -> None:
    """https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/transform-data/#reduce

    Reduce (series to rows): a row per series with its name under Field and a column per
    calculation, named as Grafana names them (Max, Mean, Last *)."""
    panel = graph(
        "r", type="table", transformations=[{"id": "reduce", "options": {"reducers": ["max", "lastNotNull"]}}]
    )
    shown = draw(run(board([panel]), Recorder()), 80)
    assert "Field" in shown and "Max" in shown and "Last *" in shown and "transformations not applied" not in shown


def test_a_panel_whose_queries_are_not_promql_says_so() -> None:
    """https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/

    A panel's queries belong to its data source: an InfluxDB or SQL query (no `expr`) on the
    default data source is not PromQL, and the box says so instead of 'no data'."""
    influx = {"type": "graph", "title": "i", "targets": [{"refId": "A", "measurement": "cpu", "query": "SELECT 1"}]}
    data = run(board([influx]), Recorder())
    assert data.panels[0].note == "no PromQL query in this panel (its queries are for another data source)"


def test_library_panels_in_the_export_and_shared_queries_are_drawn() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/manage-library-panels/
    and .../panels-visualizations/query-transform-data/share-query/

    An export keeps a library panel's model in `__elements`; a panel on the `-- Dashboard --`
    data source shows the queries of the panel it names."""
    reference = {"id": 7, "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4}, "libraryPanel": {"uid": "lib1", "name": "CPU"}}
    shared = {"id": 8, "type": "stat", "title": "same", "datasource": {"type": "datasource", "uid": "-- Dashboard --"}}
    shared["targets"] = [{"panelId": 7, "refId": "A"}]
    elements = {"lib1": {"model": graph("CPU", "rate(cpu[5m])")}}
    client = Recorder()
    data = run(board([reference, shared], __elements=elements), client)
    assert [(p.panel.title, p.note) for p in data.panels] == [("CPU", None), ("same", None)]
    assert client.exprs() == ["rate(cpu[5m])", "rate(cpu[5m])"]


def test_legacy_panels_that_do_not_fit_wrap_by_the_rows_height() -> None:
    """Grafana's RowArea (DashboardMigrator.ts): a panel that no longer fits beside the others
    goes under them, one row height down; the next row starts a row height after the last."""
    document = {"rows": [{"height": 250, "panels": [graph("a", span=6), graph("b", span=6), graph("c", span=4)]}]}
    document["rows"].append({"height": 100, "panels": [graph("d", span=12)]})
    grids = {p.title: (p.grid.x, p.grid.y, p.grid.w, p.grid.h) for p in dashboards.parse(document).panels}
    assert grids == {"a": (0, 0, 12, 7), "b": (12, 0, 12, 7), "c": (0, 7, 8, 7), "d": (0, 14, 24, 3)}


def test_panels_below_a_repeat_are_pushed_down_by_the_rows_it_added() -> None:
    """Grafana's DashboardModel.repeatPanel: 'Update gridPos for panels below' by the copies' rows."""
    repeated = graph("r $host", repeat="host", repeatDirection="v", gridPos={"x": 0, "y": 0, "w": 12, "h": 4})
    beside = graph("beside", gridPos={"x": 12, "y": 0, "w": 12, "h": 4})
    below = graph("below", gridPos={"x": 0, "y": 4, "w": 24, "h": 4})
    data = run(board([repeated, beside, below], [custom_multi("host", "a,b,c", ["a", "b", "c"])]), Recorder())
    places = {p.panel.title: p.panel.grid.y for p in data.panels}
    assert places == {"r a": 0, "r b": 4, "r c": 8, "beside": 0, "below": 12}
