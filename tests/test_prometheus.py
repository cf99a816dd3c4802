"""PromQL steps and commands against a real Prometheus scraping a test exporter."""

from __future__ import annotations

import json
import textwrap

import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken
from tests.promfixtures import Exporter, wait_for_query

INSTALL = "apt-get install --no-install-recommends prometheus prometheus-alertmanager"
SERIES = 10_000


def many_series() -> str:
    lines = ["# TYPE test_series gauge"]
    lines += [f'test_series{{shard="s{i:05d}"}} {i}' for i in range(SERIES)]
    lines += ["# TYPE test_ratio gauge", "test_ratio 7.9", 'test_labelled{path="/a\\"b"} 1']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binary("prometheus", INSTALL)
    require_binary("prometheus-alertmanager", INSTALL)
    exporter = Exporter(many_series)
    directory = tmp_path_factory.mktemp("prom")
    started = retry_if_port_taken(lambda: promstack.start_stack(directory, [exporter.target]))
    try:
        wait_for_query(started.prometheus.url, "count(test_series)", lambda r: r and r[0]["value"][1] == str(SERIES))
        yield started, exporter
    finally:
        promstack.stop_stack(started)
        exporter.close()


@pytest.fixture
def env(stack, isolated_home):
    started, _ = stack
    return {"DITSOPS_PROMETHEUS_URL": started.prometheus.url, "DITSOPS_ALERTMANAGER_URL": started.alertmanager.url}


def write(tmp_path, body: str):
    path = tmp_path / "practice.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_step_over_ten_thousand_series_shows_the_count_and_top_n(env, tmp_path):
    path = write(
        tmp_path,
        """
        name: practice
        title: Many series
        steps:
          - id: shards
            title: Shards
            promql: test_series
            top: 5
            threshold: {warn: 5000, fail: 9000}
    """,
    )
    done = run_cli("runbook", str(path), env=env)
    assert done.returncode == 3, done.stdout + done.stderr  # the worst series is over fail
    assert "9999 — above fail threshold 9000 · 10000 series (worst: test_series{" in done.stdout
    assert "9995 more rows not shown (10000 in all)" in done.stdout
    shown = [line for line in done.stdout.splitlines() if line.strip().startswith("s0")]
    assert [line.split()[0] for line in shown] == ["s09999", "s09998", "s09997", "s09996", "s09995"]


def test_prom_query_json_and_table(env):
    done = run_cli("prom", "query", "test_ratio", "--unit", "percent", env=env)
    assert done.returncode == 0, done.stderr
    assert "7.9%" in done.stdout
    data = json.loads(run_cli("prom", "query", "scalar(test_ratio) * 2", "-o", "json", env=env).stdout)
    assert data["result_type"] == "scalar" and data["scalar"] == pytest.approx(15.8)


def test_prom_range_draws_a_sparkline(env):
    done = run_cli("prom", "range", "test_ratio", "--since", "2m", "--step", "5s", env=env)
    assert done.returncode == 0, done.stderr
    assert any(ch in done.stdout for ch in "▁▂▃▄▅▆▇█")
    assert "min" in done.stdout and "last" in done.stdout


def test_prometheus_error_envelope_is_one_line(env):
    done = run_cli("prom", "query", "sum(rate(test_series[5m])", env=env)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("ditsops: Prometheus: bad_data: invalid parameter")
    assert len(done.stderr.strip().splitlines()) == 1


def test_unreachable_prometheus_exits_4(isolated_home):
    from ditsops.sandbox.ports import free_port

    done = run_cli("prom", "query", "up", env={"DITSOPS_PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}"})
    assert done.returncode == 4
    assert "cannot reach Prometheus at http://127.0.0.1:" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_label_values_are_escaped_and_bare_strings_refused(env, tmp_path):
    path = write(
        tmp_path,
        """
        name: practice
        title: Escaping
        params:
          path: {type: string, default: '/a"b'}
        steps:
          - id: labelled
            title: Labelled
            promql: test_labelled{path="{{ path }}"}
    """,
    )
    done = run_cli("runbook", str(path), "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    step = json.loads(done.stdout)["steps"][0]
    assert step["result"]["count"] == 1  # the quote reached Prometheus as data, escaped
    hostile = run_cli("runbook", str(path), "--set", 'path=x"} or vector(1) #', "-o", "json", env=env)
    assert json.loads(hostile.stdout)["steps"][0]["result"]["count"] == 0

    bare = write(
        tmp_path,
        """
        name: practice
        title: Bare
        params:
          metric: {type: string, default: up}
        steps:
          - id: bare
            title: Bare
            promql: "{{ metric }}"
    """,
    )
    done = run_cli("runbook", "lint", str(bare), env=env)
    assert done.returncode == 2
    assert "is a string outside quotes in PromQL" in done.stderr


def test_prometheus_stopped_mid_run_fails_that_step_and_the_run_goes_on(tmp_path, isolated_home, pg_dsn, diag_dsn):
    require_binary("prometheus", INSTALL)
    exporter = Exporter(lambda: "test_ratio 1\n")
    started = retry_if_port_taken(lambda: promstack.start_stack(tmp_path / "prom", [exporter.target]))
    exporter.routes["/stop-prometheus"] = lambda: promstack.stop(
        started.prometheus.pid, started.prometheus.cmdline_marker
    )
    try:
        path = write(
            tmp_path,
            f"""
            name: practice
            title: Prometheus goes away
            steps:
              - id: before
                title: Before
                promql: vector(1)
              - id: outage
                title: Prometheus is stopped here
                when: before ok  # keeps it from running ahead of the query before it
                http: {exporter.url}/stop-prometheus
              - id: after
                title: After
                when: outage ok  # a condition keeps it from running ahead of the outage
                promql: vector(1)
              - id: database
                title: The database still answers
                sql: SELECT 1 AS one
                value: one
        """,
        )
        env = {
            "DITSOPS_PROMETHEUS_URL": started.prometheus.url,
            "DITSOPS_DSN": pg_dsn,
            "DITSOPS_DIAGNOSTICS_DSN": diag_dsn,
        }
        done = run_cli("runbook", str(path), "-o", "json", env=env)
        assert done.returncode == 4, done.stdout + done.stderr
        steps = {s["id"]: s for s in json.loads(done.stdout)["steps"]}
        assert steps["before"]["status"] == "info"
        assert steps["after"]["status"] == "error"
        assert steps["after"]["summary"].startswith("cannot reach Prometheus at http://127.0.0.1:")
        assert "\n" not in steps["after"]["summary"]
        assert steps["database"]["value"] == 1
        assert "Traceback" not in done.stderr
    finally:
        promstack.stop_stack(started)
        exporter.close()
