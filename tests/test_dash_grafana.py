"""Grafana's template variables, each behaviour isolated in a small dashboard and held against
what Grafana's documentation (cited in each test) and source say: syntax and formats, query
variables (regex, sort, current), chained variables, the other variable types. No services:
a recording Prometheus double (the same calls against a real Prometheus are in
test_dash_corpus.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ditsops.base.errors import UsageError
from ditsops.core.dashformat import VarValue, substitute
from tests.dash_fixtures import Recorder, board, graph, query_var, run

# ---------------------------------------------------------------- variable syntax and formats


def test_every_variable_syntax_is_substituted() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/

    `$varname`, `${var_name}`, `${var_name:<format>}` and the deprecated
    `[[varname]]` all stand for the variable's value."""
    values = {"job": "api"}
    assert (
        substitute('a{j="$job",k="${job}",l="[[job]]",m="${job:raw}"}', values) == 'a{j="api",k="api",l="api",m="api"}'
    )


def test_a_multi_value_variable_is_regex_escaped_and_joined_as_an_alternation() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/

    (multi-value formatting): Prometheus uses regex, so several values are
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
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#include-all-option

    "Custom all value": by default All is every
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
    """https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/#advanced-variable-format-options

    regex, pipe, csv, raw, glob, json,
    queryparam formats of a multi-value variable."""
    filled = substitute(f"x{{i=`${{i:{fmt}}}`}}", {"i": VarValue(("a.b", "c"), multi=True)})
    assert filled == f"x{{i=`{shown}`}}"


def test_a_value_never_becomes_promql_syntax() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/

    (multi-value formatting, regex-escaped): a hostile
    label value chosen in a multi-value variable stays inside its string."""
    attack = VarValue(('x"} or vector(1) #',), multi=True)
    assert substitute('up{i=~"$i"}', {"i": attack}) == 'up{i=~"x\\"\\\\} or vector\\\\(1\\\\) #"}'
    with pytest.raises(UsageError, match="may not stand outside quotes"):
        substitute("sum by ($i) (up)", {"i": attack})


def test_global_variables_interval_rate_interval_and_range() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables

    $__interval, $__rate_interval,
    $__range and their _ms/_s forms."""
    client = Recorder()
    expr = "rate(x[$__rate_interval]) + $__range_s + $__interval_ms + $__range_ms"
    run(board([graph(expr=expr)]), client)
    assert client.exprs() == ["rate(x[1m]) + 3600 + 30000 + 3600000"]


# ---------------------------------------------------------------- query variables


def test_label_values_with_a_selector_asks_the_label_values_api_with_match() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/

    (Prometheus query variable): label_values(metric, label) returns
    the label's values for the metric's series; Grafana asks /api/v1/label/<label>/values with
    match[] (prometheus/metric_find_query.ts)."""
    client = Recorder({"job": ["node", "api"]})
    data = run(board([graph(expr='up{job="$job"}')], [query_var("job", "label_values(up, job)")]), client)
    assert ("label_values", ("job", "up")) in client.calls
    assert data.variables["job"] == "node"  # no saved current: the first option
    assert client.exprs() == ['up{job="node"}']


def test_chained_variables_are_resolved_in_dependency_order_and_substituted() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#chained-variables

    a variable's query may use another's value; the
    one it depends on is resolved first, whatever their order in the list."""
    variables = [
        query_var("instance", 'label_values(up{job="$job"}, instance)'),
        query_var("job", "label_values(job)", current={"value": "api"}),
    ]
    client = Recorder({"job": ["node", "api"], "instance": ["i1"]})
    run(board([graph()], variables), client)
    assert ("label_values", ("instance", 'up{job="api"}')) in client.calls


def test_variables_in_a_cycle_are_refused_with_one_line(tmp_path: Path, isolated_home: object) -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#chained-variables

    Chained variables cannot refer to each other
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
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#filter-variables-with-regex

    values the regex does not match are
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
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#sort

    disabled, alphabetical (asc/desc), numerical (asc/desc),
    alphabetical case-insensitive (asc/desc), natural (asc/desc); with no saved choice the
    first option is selected."""
    client = Recorder({"x": ["b10", "a1", "B2", "b9"]})
    assert run(board([graph()], [query_var("x", "label_values(x)", sort=sort)]), client).variables["x"] == first


def test_the_saved_current_stays_when_still_an_option_else_the_first_option() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/

    the selected value is saved with the dashboard (`current`);
    Grafana keeps it while it is among the options and otherwise selects the first one."""
    client = Recorder({"job": ["a", "b"]})
    kept = query_var("job", "label_values(job)", current={"value": "b"})
    assert run(board([graph()], [kept]), client).variables["job"] == "b"
    gone = query_var("job", "label_values(job)", current={"value": "zzz"})
    assert run(board([graph()], [gone]), client).variables["job"] == "a"


def test_label_names_metrics_and_query_result() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/

    (Prometheus): label_names(), metrics(regex), query_result(query)
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
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#add-a-query-variable

    a variable whose
    query fails (or finds nothing) does not stop the dashboard; its value is empty, with a note."""
    client = Recorder(fail="job")
    data = run(board([graph(expr='up{job="$job"}')], [query_var("job", "label_values(job)")]), client)
    assert data.variables["job"] == ""
    assert data.notes == ("variable job: Prometheus: bad_data: 1:1: parse error; left empty",)
    assert client.exprs() == ['up{job=""}'] and data.panels[0].error is None


def test_custom_interval_constant_textbox_adhoc_and_datasource_defaults() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/

    custom (comma-separated, `text : value`), interval (with auto:
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
    data = run(board([graph(expr='topk($c, rate(x{k="$k",t="$t"}[$iv])) + y[$__auto_interval_iv]')], variables), client)
    assert client.exprs() == ['topk(10, rate(x{k="node",t="typed"}[2m])) + y[2m]']  # 1h / 30 = 2m
    assert data.variables["ds"] == "Prometheus" and data.variables["ad"] == ""


def test_var_still_overrides_and_all_can_be_chosen() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#include-all-option

    `--var job=All`
    selects All, every option the query finds (Grafana's URL `var-job=$__all` alike)."""
    client = Recorder({"job": ["a", "b"]})
    variable = query_var("job", "label_values(job)", includeAll=True, multi=True)
    run(board([graph(expr='up{job=~"$job"}')], [variable]), client, {"job": "All"})
    assert client.exprs() == ['up{job=~"(a|b)"}']


def test_a_regex_uses_other_variables_and_the_global_flag_takes_every_match() -> None:
    """https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#filter-variables-with-regex

    A regex may refer to another variable (filled in regex-escaped, as Grafana's templateSrv
    does for it); with the `g` flag every match's capture becomes an option."""
    client = Recorder({"instance": ["a.1:9100", "ax1:9100", "b:9100"], "path": ["/x/y/z"]})
    variables = [
        {"name": "prefix", "type": "constant", "query": "a.1"},
        query_var("host", "label_values(instance)", regex="/^($prefix):\\d+/", sort=2),
        query_var("part", "label_values(path)", regex="/\\/(\\w)/g", sort=2),
    ]
    values = run(board([graph()], variables), client).variables
    assert values["host"] == "a.1"  # ax1 (first, sorted descending) would match an unescaped dot
    assert values["part"] == "z"  # x, y and z are options; sorted descending
