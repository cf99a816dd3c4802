"""A verify reads only what came after the fix (issue 19): `with:` re-runs the check over
the runbook's short window, `after:` holds the first re-check until that window lies wholly
after the change, and a re-check with no data (nothing served yet) is never a recovery.
In-process, on a clock the test moves: the verify kind with the walk's hooks played by a
recorder; the shipped high-error-rate runbook states what it reads."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from ditsops.base.errors import RunbookError
from ditsops.core import steps as step_kinds
from ditsops.core.catalog import find
from ditsops.core.loader import load_runbook
from ditsops.core.results import Status, StepResult
from ditsops.core.steps.base import RunContext
from ditsops.core.steps.verify import RECOVERED
from ditsops.core.template import render_text
from tests.cli import run_cli

SECOND = timedelta(seconds=1)


class Walk:
    """The walk as a verify sees it: a clock, a sleep that moves it, and re-checks answered
    from a script of (value or None for no series) by the time they are asked."""

    def __init__(self, answer) -> None:
        self.now = 1000.0
        self.answer = answer
        self.rechecks: list[tuple[float, dict]] = []
        self.reports: list[str] = []

    def rerun(self, step_id, params=None):
        self.rechecks.append((self.now, dict(params or {})))
        value = self.answer(self.now)
        if value is None:
            return StepResult(Status.INFO, "no series returned")
        return StepResult(Status.OK if value < 1 else Status.FAILING, f"{value}%", value=value)

    def manual(self, step, text):
        return None

    def progress(self, message, live):
        self.reports.append(message)

    def applied(self, summary, data):
        pass

    def sleep(self, seconds: float) -> None:
        self.now += seconds


RUNBOOK = """\
name: fresh
title: Fresh verify
params:
  window: {type: duration, default: 10s}
  recheck_window: {type: duration, default: 3s}
  recheck_after: {type: duration, default: 4s}
steps:
  - id: error-rate
    title: Errors
    promql: sum(rate(errors_total[{{ window }}]))
    unit: percent
    threshold: {warn: 1, fail: 5}
  - id: recovered
    title: Recovered
    verify: error-rate
    with: {window: "{{ recheck_window }}"}
    after: "{{ recheck_after }}"
    within: 30s
    every: 2s
"""


def runbook_file(tmp_path: Path, text: str = RUNBOOK) -> Path:
    path = tmp_path / "fresh.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def run_verify(
    tmp_path: Path, walk: Walk, *, changed_ago: float | None, applied: int = 1, text: str = RUNBOOK
) -> StepResult:
    runbook = load_runbook(runbook_file(tmp_path, text))
    params = {spec.name: spec.default for spec in runbook.params}
    ctx = RunContext(
        settings=None,  # type: ignore[arg-type]  # a verify reads no settings
        params=params,
        clock=lambda: walk.now,
        sleep=walk.sleep,
        hooks=walk,
        actions_applied=applied,
        changed_at=None if changed_ago is None else walk.now - changed_ago,
    )
    step = runbook.step("recovered")
    return step_kinds.kind_of(step.kind).run(step, ctx)


def test_the_first_recheck_waits_until_its_window_is_all_after_the_fix(tmp_path):
    walk = Walk(lambda now: 0.2)
    fixed_at = walk.now - 0.5  # the rollout ended half a second before the verify began
    result = run_verify(tmp_path, walk, changed_ago=0.5)
    assert result.status == Status.OK and result.summary.startswith("recovered")
    [(when, params)] = walk.rechecks
    assert when >= fixed_at + 4  # recheck_after: the 3 s window and a scrape
    assert params == {"window": SECOND * 3}  # the runbook's short window, not the walk's 10 s
    assert any("first re-check in" in report for report in walk.reports)


def test_a_window_longer_than_after_still_starts_after_the_fix(tmp_path):
    walk = Walk(lambda now: 0.2)
    runbook = RUNBOOK.replace(
        "recheck_window: {type: duration, default: 3s}", "recheck_window: {type: duration, default: 10s}"
    )
    result = run_verify(tmp_path, walk, changed_ago=0.0, text=runbook)  # as with --set recheck_window=10s
    assert result.status == Status.OK
    assert walk.rechecks[0][0] >= 1000.0 + 10  # not at 4 s: a 10 s window then still holds the old pods


def test_a_fix_that_fixes_nothing_is_not_recovered(tmp_path):
    walk = Walk(lambda now: 15.0)  # still failing whatever the window
    result = run_verify(tmp_path, walk, changed_ago=0.0)
    assert result.status == Status.FAILING and result.status not in RECOVERED["ok"]
    assert result.summary.startswith("not recovered after")
    assert len(walk.rechecks) > 5 and all(p == {"window": SECOND * 3} for _, p in walk.rechecks)


def test_no_data_before_the_new_pods_served_is_never_recovered(tmp_path):
    walk = Walk(lambda now: None)  # no series: nothing served in the window yet
    result = run_verify(tmp_path, walk, changed_ago=0.0)
    assert result.status == Status.ERROR and result.status not in RECOVERED["not-failing"]
    assert result.summary.startswith("not verified: no data after")


def test_no_data_then_traffic_recovers_on_the_first_real_value(tmp_path):
    start = 1000.0
    walk = Walk(lambda now: None if now < start + 10 else 0.3)
    result = run_verify(tmp_path, walk, changed_ago=0.0)
    assert result.status == Status.OK and result.value == 0.3
    assert walk.rechecks[-1][0] >= start + 10


def test_a_change_by_the_resumed_run_waits_from_now(tmp_path):
    walk = Walk(lambda now: 0.1)
    run_verify(tmp_path, walk, changed_ago=None)  # applied by the run it resumes: time unknown
    assert walk.rechecks[0][0] >= 1000.0 + 4


def test_without_a_change_one_recheck_at_once(tmp_path):
    walk = Walk(lambda now: 15.0)
    result = run_verify(tmp_path, walk, changed_ago=None, applied=0)
    assert [when for when, _ in walk.rechecks] == [1000.0]
    assert result.summary.startswith("no change made in this run")


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ('with: {window: "3s"}', "lone placeholder"),
        ('with: {window: "{{ nope }}"}', "no parameter 'nope'"),
        ('with: {nope: "{{ recheck_window }}"}', "no parameter 'nope'"),
        ('with: {window: "{{ label }}"}', "gives window (duration) the value of label (string)"),
        ('after: "{{ label }}"', "'after' must be a duration"),
        ("after: soon", "'after': 'soon' is not a duration"),
        ("after: 30s", "'after' (30s) must be shorter than 'within'"),
    ],
)
def test_lint_refuses_what_a_recheck_could_not_read(tmp_path, field, problem):
    window = "  window: {type: duration, default: 10s}\n"
    text = RUNBOOK.replace(window, window + "  label: {type: string, default: x}\n")
    fields = '    with: {window: "{{ recheck_window }}"}\n    after: "{{ recheck_after }}"\n'
    text = text.replace(fields, f"    {field}\n")
    with pytest.raises(RunbookError) as raised:
        load_runbook(runbook_file(tmp_path, text))
    assert problem in str(raised.value)


def test_the_shipped_runbook_says_what_its_verify_reads():
    runbook = find("high-error-rate")
    step = runbook.step("recovered")
    sandbox = {spec.name: spec.default for spec in runbook.params} | {
        "window": SECOND * 10,
        "recheck_window": SECOND * 3,
        "recheck_after": SECOND * 4,
    }
    why = " ".join(render_text(step.why, sandbox).split())
    assert "the ratio over the last 3s" in why and "from 4s after the fix ended" in why
    assert "never a 10s window" in why
    described = step_kinds.kind_of(step.kind).describe(step, sandbox)
    assert "with window=3s" in described and "after the change" in described


def test_runbook_show_and_lint_accept_the_shipped_verify():
    lint = run_cli("runbook", "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_a_sandbox_made_before_the_recheck_parameters_gets_them(isolated_home):
    """state.json keeps the parameters of the `up` that made it: one made by an older
    ditsops would walk with the production 1m30s `after` until `down` and `up`."""
    from ditsops.sandbox import sandbox_profile
    from ditsops.sandbox.state import Component, SandboxState, save_state

    old = {"window": "10s", "baseline": "15m", "baseline_step": "5s"}
    prometheus = Component(name="prometheus", profile={"prometheus_url": "http://127.0.0.1:9", "params": old})
    save_state(SandboxState(components={"prometheus": prometheus}))
    params = sandbox_profile()["params"]
    assert params["recheck_window"] == "3s" and params["recheck_after"] == "4s"
    assert params["window"] == "10s"  # what the sandbox was made with stays
