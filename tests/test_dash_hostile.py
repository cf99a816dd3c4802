"""Hostile dashboards and backends: geometry and counts bounded, threads bounded, a Prometheus
that never answers or answers garbage to the label API, non-finite numbers in the file. Each
ends in a drawn dashboard or one line, never a traceback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ditsops.base.errors import UsageError
from ditsops.core import dashboards, dashquery
from tests.dash_fixtures import Recorder, board, draw, graph, query_var, run

# ---------------------------------------------------------------- bounds


def test_hostile_geometry_and_counts_are_bounded() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/

    (gridPos, panels):
    gridPos.h = 1e9 grew a dashboard to 23.8 GB; now clamped. 10,000 panels are refused in
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
    """https://grafana.com/docs/grafana/latest/panels-visualizations/panel-inspector/

    (a panel shows its own query error):
    a panel whose query fails shows its error; the others draw (exit 0 in the command)."""
    client = Recorder()
    good, bad = graph("good", "up"), graph("bad", "sum by ($x) (up)")
    variables = [{"name": "x", "type": "textbox", "query": "a b"}]
    data = run(board([good, bad], variables), client)
    assert [p.error is None for p in data.panels] == [True, False]
    from ditsops.cli.dash import _exit_code

    assert _exit_code(data) == 0


# ---------------------------------------------------------------- hostile backends


def many_variables(tmp_path: Path) -> Path:
    variables = [query_var(f"v{i}", f"label_values(up, l{i})") for i in range(5)]
    path = tmp_path / "vars.json"
    path.write_text(
        json.dumps({"title": "v", "panels": [graph(expr='up{a="$v0"}')], "templating": {"list": variables}})
    )
    return path


@pytest.mark.services  # a loopback stand-in Prometheus
def test_a_prometheus_that_never_answers_is_waited_for_once_not_once_per_variable(
    tmp_path: Path, isolated_home: object
) -> None:
    """Five query variables against a Prometheus that drips its answer: the first variable
    meets the deadline, the other four are not asked (their saved value kept, a note says
    why), the panel meets its own deadline: two requests in all, exit 4."""
    from tests.cli import run_cli
    from tests.httpcapture import SlowDripServer

    server = SlowDripServer(seconds=30)
    try:
        env = {"DITSOPS_PROMETHEUS_URL": server.url, "DITSOPS_HTTP_TIMEOUT": "1"}
        result = run_cli("dash", str(many_variables(tmp_path)), "-o", "json", env=env)
    finally:
        server.close()
    assert result.returncode == 4, result.stderr
    document = json.loads(result.stdout)
    assert server.connections == 2
    assert sum("not asked (Prometheus unreachable)" in note for note in document["notes"]) == 4


@pytest.mark.services  # a loopback stand-in Prometheus
def test_a_prometheus_answering_garbage_to_the_label_api_is_a_note_not_a_crash(
    tmp_path: Path, isolated_home: object
) -> None:
    from tests.cli import run_cli
    from tests.httpcapture import CapturingServer

    garbage = {"status": "success", "data": [{"not": "a string"}, 7]}
    server = CapturingServer(answers={f"/api/v1/label/l{i}/values": garbage for i in range(5)})
    try:
        env = {"DITSOPS_PROMETHEUS_URL": server.url}
        result = run_cli("dash", str(many_variables(tmp_path)), "-o", "json", env=env)
    finally:
        server.close()
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["notes"][0].startswith("variable v0: ") and "not a list of strings" in document["notes"][0]
    assert len(document["panels"]) == 1


def test_non_finite_bounds_and_absurd_decimals_in_a_file_are_ignored_not_a_crash() -> None:
    """Python's JSON reader takes NaN and Infinity, Grafana's never writes them: a min of NaN,
    a span of NaN in a legacy row and decimals of 10**30 were each an internal error."""
    gauge = graph(
        "g", type="gauge", fieldConfig={"defaults": {"min": float("nan"), "max": float("inf"), "decimals": 10**30}}
    )
    data = run(
        board([gauge, graph("t", fieldConfig={"defaults": {"min": float("nan"), "unit": "percent"}})]), Recorder()
    )
    assert data.panels[0].panel.min is None and data.panels[0].panel.decimals == 20
    assert "g" in draw(data, 120)
    legacy = dashboards.parse({"rows": [{"panels": [graph("s", span=float("nan"))]}]})
    assert legacy.panels[0].grid.w == 8  # Grafana's default span, 4 of 12


def test_text_titles_and_rows_from_a_dashboard_are_shown_never_obeyed() -> None:
    """A text panel, a panel title and a row title carrying terminal escapes (clear screen, set
    the window title), rich markup and a 100,000-character body: escaped, shown as written,
    the body cut to a screenful."""
    content = "# \x1b]0;pwned\x07 hi [red]x[/red]\n<script>alert(1)</script>" + "a" * 100_000
    text = {"type": "text", "title": "[bold]t\x1b[31m", "options": {"content": content}}
    row = {"type": "row", "title": "\x1b[2Jrow", "collapsed": True, "panels": [], "gridPos": {"y": 50}}
    shown = draw(run(board([text, row, graph("[link=http://x]y[/link]")]), Recorder()), 80)
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b]0;pwned\\x07 hi [red]x[/red]" in shown and "[bold]t\\x1b[31m" in shown
    assert "\\x1b[2Jrow" in shown and "[link=http://x]y[/link]" in shown
    assert len(shown.splitlines()) < 60
