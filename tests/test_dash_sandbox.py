"""`ditsops dash` against the sandbox: every expression of the three dashboards parses in the
installed Prometheus, every panel returns data, bad-deploy shows in the Error Rate panel, and
on a real terminal the dashboard draws every title at 80 and 160 columns and `--watch`
refreshes until q.

The worker's shared sandbox (tests/sandboxfixtures.py); bad-deploy runs last and is
cleared, so the tests before it see a quiet system.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pexpect
import pytest

from ditsops.core import dashboards, dashquery
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.sandboxfixtures import WATCH, Sandbox, ditsops_json, fault

ERROR_PANEL = "Error Rate"


def panels(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in document["panels"]}


def missing_data(document: dict[str, Any]) -> list[str]:
    """Panels in error or without a single value, as 'title: why'."""
    problems = []
    for title, panel in panels(document).items():
        values = [v for s in panel["series"] for _, v in s["points"] if v is not None]
        if panel["error"] or not values:
            problems.append(f"{title}: {panel['error'] or 'no data'}")
    return problems


@pytest.mark.parametrize("name", dashboards.SHIPPED)
def test_every_expression_parses_in_the_installed_prometheus(sandbox: Sandbox, name: str) -> None:
    board = dashboards.load(name)
    window = dashquery.time_range("1h")
    values = {**dashquery.builtins(window.since, window.step), **dashquery.resolve_variables(board, {})}
    for panel in board.panels:
        for target in panel.targets:
            expr = dashquery.substitute(target.expr, values)
            answer = httpx.get(f"{sandbox.prometheus}/api/v1/format_query", params={"query": expr}, timeout=10).json()
            assert answer["status"] == "success", f"{name}/{panel.title}: {expr}: {answer}"


@pytest.mark.parametrize("name", dashboards.SHIPPED)
def test_every_panel_of_the_dashboard_returns_data(sandbox: Sandbox, name: str) -> None:
    def fetched() -> dict[str, Any]:
        return ditsops_json("dash", name, "--since", "5m")[1]

    # Rates need two scrapes; a young Prometheus gets them within seconds.
    document = wait_until(fetched, 60, f"every panel of {name} with data", until=lambda d: not missing_data(d), **WATCH)
    assert document["variables"] == {"job": "dits-server", **({"gc_window": "1h"} if name == "storage" else {})}


@pytest.mark.parametrize("columns", [80, 160])
def test_dash_overview_on_a_terminal_draws_every_panel_title(sandbox: Sandbox, columns: int) -> None:
    child = spawn(["dash", "overview", "--since", "5m"], columns)
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before or ""
    assert child.exitstatus == 0, shown[-2000:]
    assert "Traceback" not in shown
    for panel in dashboards.load("overview").panels:
        assert panel.title in shown, f"{panel.title} missing at {columns} columns"


def test_a_panel_step_draws_the_panel_in_the_walk_and_states_values_with_their_unit(
    sandbox: Sandbox, tmp_path: Any
) -> None:
    runbook = tmp_path / "trend.yaml"
    runbook.write_text(
        "name: trend\ntitle: Error trend\nsteps:\n"
        "  - id: error-trend\n    title: Error ratio\n    panel: overview/Error Rate\n"
        "    vars: {job: dits-server}\n    range: {since: 5m, step: 15s}\n"
    )
    # piped, 80 columns; --verbose draws every step whole
    done = run_cli("--profile", "sandbox", "runbook", str(runbook), "--verbose", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "─ Error Rate ─" in done.stdout  # the panel's box, as `dash` draws it
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("• info:")]
    # Each value once, with its unit: no bare number in front of the series' own figures.
    assert line.startswith("• info: Error %: ") and "%" in line and "over 5m" in line, line
    # The compact walk: the panel's figures on the step's one line, no box.
    compact = run_cli("--profile", "sandbox", "runbook", str(runbook), env={"COLUMNS": "80"})
    assert compact.returncode == 0, compact.stdout + compact.stderr
    assert "─ Error Rate ─" not in compact.stdout
    (line,) = [line for line in compact.stdout.splitlines() if line.startswith("• [1/1] Error ratio: ")]
    assert line.startswith("• [1/1] Error ratio: Error %: ") and "over 5m" in line, line


# Every reading command, with what it needs to read something in the sandbox.
READING_COMMANDS = [
    ["db", "activity"],
    ["db", "long-queries", "--older-than", "1s"],
    ["db", "idle-in-transaction", "--older-than", "1s"],
    ["db", "blocking"],
    ["k8s", "status"],
    ["k8s", "logs", "-l", "app=dits-server", "--tail", "5"],
    ["k8s", "events"],
    ["k8s", "history", "dits-server"],
    ["alerts"],
    ["silence", "list"],
    ["health"],
    ["prom", "query", "up"],
    ["prom", "range", "up", "--since", "5m"],
    ["dash", "overview", "--since", "5m"],
    ["runbook", "list"],
    ["runbook", "show", "high-error-rate"],
    ["runbook", "runs"],
    ["config", "show"],
    ["sandbox", "status"],
]


def shape(document: Any) -> Any:
    """What a script relies on: the kind of document and its keys (values move: ages, rates)."""
    if isinstance(document, dict):
        return ("object", sorted(document))
    if isinstance(document, list):
        return ("array", shape(document[0]) if document else None)
    return type(document).__name__


def test_every_reading_command_gives_the_same_json_with_output_before_or_after_its_name(sandbox: Sandbox) -> None:
    def both(command: list[str]) -> tuple[list[str], Any, Any]:
        before = run_cli("--profile", "sandbox", "-o", "json", *command)
        after = run_cli("--profile", "sandbox", *command, "--output", "json")
        for done in (before, after):
            assert done.returncode == 0, f"{command}: exit {done.returncode}: {done.stderr[-800:]}"
        return command, json.loads(before.stdout), json.loads(after.stdout)

    with ThreadPoolExecutor(max_workers=4) as pool:  # 38 processes: start-up dominates, overlap it
        for command, before, after in pool.map(both, READING_COMMANDS):
            assert shape(before) == shape(after), command


def test_k8s_status_through_a_pipe_at_80_columns_prints_every_pod_name_whole(sandbox: Sandbox) -> None:
    _, document = ditsops_json("k8s", "status")
    pods = [pod["name"] for deployment in document for pod in deployment["pods"]]
    assert len(pods) >= 3
    done = run_cli("--profile", "sandbox", "k8s", "status", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    for pod in pods:
        assert pod in words, f"{pod} not whole in:\n{done.stdout}"


def test_watch_refreshes_in_place_and_q_leaves_with_exit_0(sandbox: Sandbox) -> None:
    child = spawn(["dash", "overview", "--since", "5m", "--watch", "1s"], 160)
    for _ in range(3):  # the first view and two refreshes, each drawn whole again
        child.expect("Dits Overview", timeout=60)
    child.send("q")
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")


def test_bad_deploy_raises_the_error_rate_panel_above_5_percent(sandbox: Sandbox) -> None:
    def error_rate() -> float:
        panel = panels(ditsops_json("dash", "overview", "--since", "5m")[1])[ERROR_PANEL]
        assert panel["error"] is None, panel["error"]
        return panel["series"][0]["value"] or 0.0

    before = wait_until(error_rate, 60, "an error rate", until=lambda v: v is not None, **WATCH)
    assert before < 5, f"the sandbox was already failing: {before:.1f}%"
    fault("bad-deploy")
    try:
        wait_until(error_rate, 120, "the Error Rate panel above 5%", until=lambda v: v > 5, **WATCH)
    finally:
        fault("bad-deploy", "--clear")


def spawn(args: list[str], columns: int) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "60"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "--profile", "sandbox", *args],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(60, columns),
    )
