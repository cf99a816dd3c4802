"""The shipped Dits alert rules: promtool accepts them, their unit tests pass, every alert
points at a runbook, and the sandbox rewrite keeps everything but the clocks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ditsops.sandbox.promstack import INSTALL_COMMAND
from ditsops.sandbox.rules import duration_seconds, sandbox_rules, shipped_rules_path, shorten_ranges
from tests.helpers import require_binary

REPO = Path(__file__).resolve().parents[1]
ALERTS_DIR = REPO / "runbooks" / "alerts"
RULES = ALERTS_DIR / "dits.rules.yml"
RULE_TESTS = ALERTS_DIR / "dits.rules.test.yml"

# alert -> (group, severity, runbook): the spec's rules and the runbooks that answer them.
EXPECTED = {
    "HighErrorRate": ("dits-critical", "critical", "high-error-rate"),
    "ServiceDown": ("dits-critical", "critical", "service-down"),
    "DatabaseConnectionsExhausted": ("dits-critical", "critical", "db-connections-exhausted"),
    "HighLatency": ("dits-warning", "warning", "high-latency"),
    "LowDiskSpace": ("dits-warning", "warning", "low-disk-space"),
    "HighMemoryUsage": ("dits-warning", "warning", "high-memory-usage"),
    "GCNotRunning": ("dits-warning", "warning", "gc-not-running"),
    "HighLockContention": ("dits-warning", "warning", "high-lock-contention"),
    "UnusualTrafficSpike": ("dits-info", "info", "unusual-traffic-spike"),
    "LargeUpload": ("dits-info", "info", "large-upload"),
}
PLANNED_RUNBOOKS = {runbook for _, _, runbook in EXPECTED.values()}


def load_rules(text: str) -> dict[str, tuple[str, dict]]:
    """alertname -> (group name, rule)."""
    document = yaml.safe_load(text)
    return {rule["alert"]: (group["name"], rule) for group in document["groups"] for rule in group["rules"]}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return require_binary("promtool", INSTALL_COMMAND)


def run_promtool(promtool: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_promtool_check_rules(promtool: Path) -> None:
    result = run_promtool(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED)} rules found" in result.stdout


def test_promtool_unit_tests(promtool: Path) -> None:
    # promtool resolves rule_files relative to the test file, wherever it is run from.
    result = run_promtool(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fires == set(EXPECTED)
    assert quiet == set(EXPECTED)


def test_rules_are_the_specs_alerts_in_their_groups() -> None:
    rules = load_rules(RULES.read_text())
    assert set(rules) == set(EXPECTED)
    for name, (group, rule) in rules.items():
        expected_group, severity, _ = EXPECTED[name]
        assert group == expected_group, name
        assert rule["labels"]["severity"] == severity, name


def test_every_alert_names_its_runbook() -> None:
    existing = {path.stem for path in REPO.glob("runbooks/*.y*ml")}
    for name, (_, rule) in load_rules(RULES.read_text()).items():
        annotations = rule["annotations"]
        runbook = annotations["runbook"]
        assert runbook == EXPECTED[name][2], name
        assert runbook in PLANNED_RUNBOOKS | existing, name
        assert annotations["runbook_command"] == f"ditsops runbook {runbook}", name
        assert annotations["summary"] and annotations["description"], name


def test_existing_runbooks_answer_the_alert_that_names_them() -> None:
    by_runbook = {rule["annotations"]["runbook"]: name for name, (_, rule) in load_rules(RULES.read_text()).items()}
    paths = sorted(REPO.glob("runbooks/*.y*ml"))
    assert len(paths) == len(by_runbook) == 10  # every alert has its runbook, every runbook its alert
    for path in paths:
        runbook = yaml.safe_load(path.read_text())
        assert runbook.get("name") in by_runbook, f"{path.name}: no alert rule names this runbook"
        assert runbook.get("alert") == by_runbook[runbook["name"]], path.name


# ---------------------------------------------------------------- sandbox rewrite


def test_sandbox_rules_pass_promtool(promtool: Path, tmp_path: Path) -> None:
    path = tmp_path / "sandbox.rules.yml"
    path.write_text(sandbox_rules(RULES.read_text()))
    result = run_promtool(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sandbox_rules_keep_everything_but_the_clocks() -> None:
    text = sandbox_rules(RULES.read_text(), for_seconds=5)
    assert text.startswith("# GENERATED for the ditsops practice sandbox only")
    shipped, sandbox = load_rules(RULES.read_text()), load_rules(text)
    assert list(sandbox) == list(shipped)
    for name, (group, rule) in shipped.items():
        sandbox_group, sandbox_rule = sandbox[name]
        assert sandbox_group == group
        assert sandbox_rule["labels"] == rule["labels"]
        assert sandbox_rule["annotations"] == rule["annotations"]
        if duration_seconds(rule.get("for", "0")) > 0:
            assert sandbox_rule["for"] == "5s", name
        else:
            assert duration_seconds(sandbox_rule.get("for", "0")) == 0, name
        # Same expression once the windows are put back.
        windows = re.compile(r"\[[0-9a-z:]+\]")
        assert windows.sub("[W]", sandbox_rule["expr"]) == windows.sub("[W]", rule["expr"]), name
        assert "[5m]" not in sandbox_rule["expr"] and "[1d:5m]" not in sandbox_rule["expr"]


def test_shorten_ranges_leaves_string_literals_alone() -> None:
    expr = 'rate(x{path=~"/v[12]/[5m]"}[5m]) / avg_over_time(y[1d:5m]) + z[1h30m:]'
    assert (
        shorten_ranges(expr, window="30s") == 'rate(x{path=~"/v[12]/[5m]"}[30s]) / avg_over_time(y[15m:5s]) + z[15m:5s]'
    )


def test_shipped_rules_path_is_the_repository_file() -> None:
    assert shipped_rules_path() == RULES


def test_durations() -> None:
    assert duration_seconds("0") == 0
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("500ms") == 0.5
    with pytest.raises(Exception, match="not a Prometheus duration"):
        duration_seconds("5 minutes")
