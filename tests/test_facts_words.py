"""The words a walk prints agree with the comparison made and with the alert rule: a value
at its bound is not beyond it (the rules' `>`), a value that rounds to its bound shows the
decimals that separate them, bytes are in the rule's system (100e9 is 100 GB, not 93.1
GiB), and a summary wraps at spaces at 80 columns, its undo command on one line."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from ditsops.core.loader import load_runbook
from ditsops.core.model import Threshold
from ditsops.core.results import Status, StepResult
from ditsops.core.thresholds import evaluate, summarize
from ditsops.render.console import THEME
from ditsops.render.runbook import render_step_result

RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"


def said(value: float, unit: str, threshold: Threshold) -> str:
    return summarize(value, unit, threshold, evaluate(threshold, value))


def test_a_value_at_its_fail_threshold_is_not_above_it() -> None:
    # high-error-rate: HighErrorRate fires on `> 5` percent
    at = Threshold(warn=2, fail=5)
    assert evaluate(at, 5.0) == Status.WARNING
    assert said(5.0, "percent", at) == "5.0% — above warn threshold 2.0%"


def test_a_value_that_rounds_to_its_threshold_shows_the_decimals_that_decide() -> None:
    text = said(5.04, "percent", Threshold(warn=2, fail=5))
    assert text == "5.04% — above fail threshold 5.00%"
    number, bound = re.findall(r"[\d.]+%", text)
    assert number != bound
    below = said(4.96, "percent", Threshold(fail=5))
    assert below.startswith("4.96% — within thresholds")


def test_bytes_follow_the_alert_rules_system() -> None:
    rules = (RUNBOOKS / "alerts" / "dits.rules.yml").read_text()
    assert "dits_upload_size_bytes > 100e9" in rules  # the rule: more than 100 GB
    step = load_runbook(RUNBOOKS / "large-upload.yaml").steps[0]
    assert step.threshold is not None and step.unit == "bytes"
    text = said(150e9, step.unit, step.threshold)
    assert text == "150.0 GB — above fail threshold 100.0 GB"
    assert "GiB" not in text
    binary = said(150 * 2**30, "bytes", Threshold(fail=100 * 2**30))
    assert binary == "150.0 GiB — above fail threshold 100.0 GiB"


def terminal(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None, theme=THEME), out


@pytest.mark.parametrize("width", [40, 60, 80])
def test_a_health_summary_wraps_between_words(width: int) -> None:
    summary = (
        "HTTP 503, unhealthy, version 1.4.2, up 3d00h, 12 ms, unhealthy: database, storage, "
        "object-store (expected HTTP 200)"
    )
    console, out = terminal(width)
    render_step_result(console, StepResult(Status.FAILING, summary))
    words = set(summary.replace(",", " ").split())
    for line in out.getvalue().splitlines():
        assert len(line) <= width, out.getvalue()  # longer, the terminal would cut a word
        for word in line.replace(",", " ").split():
            assert word in words or word in ("✖", "failing:"), (word, out.getvalue())


def test_an_undo_command_is_printed_whole_on_its_own_line() -> None:
    undo = "ditsops --config /tmp/a/ditsops.toml --profile lab --namespace dits k8s scale dits-server --replicas 3"
    console, out = terminal(80)
    render_step_result(console, StepResult(Status.APPLIED, f"scaled dits-server 3 -> 6; undo: {undo}"))
    lines = out.getvalue().splitlines()
    assert f"  undo: {undo}" in lines, lines
    assert any(line.endswith("scaled dits-server 3 -> 6") for line in lines), lines
