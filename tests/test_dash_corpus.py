"""Public dashboards written by others (tests/data/dashboards, sources in its README), drawn
unassisted by `ditsops dash` against a real Prometheus scraping a small exporter: each comes
out as a dashboard (one JSON entry per panel, exit 0) and at 160 columns no box is narrower
than 10 columns. Query variables use Prometheus' real label API, chained and repeated."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken
from tests.promfixtures import Exporter, wait_for_query

CORPUS = Path(__file__).resolve().parent / "data" / "dashboards"
INSTALL = "apt-get install --no-install-recommends prometheus prometheus-alertmanager"
METRICS = """# TYPE node_uname_info gauge
node_uname_info{nodename="node-a",sysname="Linux",release="6.1.0",machine="x86_64"} 1
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="user"} 10
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8e9
node_memory_MemAvailable_bytes 4e9
# TYPE corpus_shard gauge
corpus_shard{shard="s1"} 1
corpus_shard{shard="s2"} 2
corpus_shard{shard="s.3"} 3
"""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    require_binary("prometheus", INSTALL)
    require_binary("prometheus-alertmanager", INSTALL)
    exporter = Exporter(lambda: METRICS)
    directory = tmp_path_factory.mktemp("corpus-prom")
    started = retry_if_port_taken(lambda: promstack.start_stack(directory, [exporter.target]))
    try:
        wait_for_query(started.prometheus.url, "count(corpus_shard)", lambda r: bool(r) and r[0]["value"][1] == "3")
        yield started.prometheus.url, exporter
    finally:
        promstack.stop_stack(started)
        exporter.close()


@pytest.fixture
def env(prometheus, isolated_home) -> dict[str, str]:
    return {"DITSOPS_PROMETHEUS_URL": prometheus[0]}


def expected_panels(document: dict[str, Any]) -> int:
    """Panels a Grafana user sees, counted from the file itself: every panel but rows, those in
    collapsed rows too, in legacy `rows` as well; Grafana's saved repeat copies left out."""
    if "panels" not in document:
        return sum(len(row.get("panels", [])) for row in document["rows"] if not row.get("repeatIteration"))
    count = 0
    for panel in document["panels"]:
        if panel.get("type") == "row":
            count += sum(1 for child in panel.get("panels", []) if "repeatPanelId" not in child)
        elif "repeatPanelId" not in panel:
            count += 1
    return count


def box_widths(text: str) -> list[int]:
    return [len(m.group(0)) for line in text.splitlines() for m in re.finditer(r"╭[^╮]*╮", line)]


CORPUS_FILES = sorted(CORPUS.glob("*.json"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.stem for p in CORPUS_FILES])
def test_a_public_dashboard_comes_out_unassisted(env: dict[str, str], path: Path) -> None:
    result = run_cli("dash", str(path), "-o", "json", "--since", "5m", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["panels"]) == expected_panels(json.loads(path.read_text()))
    assert not [p for p in document["panels"] if p["error"]], [p["error"] for p in document["panels"] if p["error"]]
    assert not [p["title"] for p in document["panels"] if "$" in p["title"]]  # every title's variables filled


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.stem for p in CORPUS_FILES])
def test_at_160_columns_no_box_is_narrower_than_10(env: dict[str, str], path: Path) -> None:
    result = run_cli("dash", str(path), "--since", "5m", "--expand", env={**env, "COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    widths = box_widths(result.stdout)
    assert widths and min(widths) >= 10
    assert max(len(line) for line in result.stdout.splitlines()) <= 160


def test_node_exporter_fulls_chained_variables_come_from_prometheus(env: dict[str, str], prometheus) -> None:
    """job -> nodename -> node: label_values(node_uname_info{job="$job"}, nodename) is asked with
    $job filled in, and the panels' queries carry the node's instance."""
    _, exporter = prometheus
    result = run_cli("dash", str(CORPUS / "node-exporter-full.json"), "-o", "json", "--since", "5m", env=env)
    document = json.loads(result.stdout)
    assert document["variables"]["nodename"] == "node-a"
    assert document["variables"]["node"] == exporter.target
    queries = [q for panel in document["panels"] for q in panel["queries"]]
    assert queries and all("$" not in q for q in queries)
    assert any(f'instance="{exporter.target}"' in q for q in queries)


def test_all_of_a_multi_value_variable_matches_every_value_in_prometheus(env: dict[str, str], tmp_path: Path) -> None:
    """Grafana writes All as `(s1|s2|s\\.3)` for Prometheus: the regex Prometheus really runs
    matches all three series (one with a dot in its value), and a repeat on the same variable
    draws one panel per value with that value alone."""
    variable = {
        "name": "shard",
        "type": "query",
        "query": {"query": "label_values(corpus_shard, shard)"},
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": ["$__all"]},
        "sort": 1,
    }
    panels = [
        {"type": "stat", "title": "All shards", "targets": [{"expr": 'count(corpus_shard{shard=~"$shard"})'}]},
        {"type": "stat", "title": "Shard $shard", "repeat": "shard", "targets": [{"expr": 'corpus_shard{shard=~"$shard"}'}]},  # noqa: E501
    ]  # fmt: skip
    path = tmp_path / "shards.json"
    path.write_text(json.dumps({"title": "Shards", "panels": panels, "templating": {"list": [variable]}}))
    result = run_cli("dash", str(path), "-o", "json", "--since", "5m", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    shown = {p["title"]: p for p in document["panels"]}
    assert shown["All shards"]["queries"] == ['count(corpus_shard{shard=~"(s\\\\.3|s1|s2)"})']
    assert shown["All shards"]["value"] == 3
    assert [t for t in shown if t.startswith("Shard ")] == ["Shard s.3", "Shard s1", "Shard s2"]
    assert shown["Shard s.3"]["value"] == 3 and shown["Shard s1"]["value"] == 1
