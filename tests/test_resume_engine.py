"""Resume, `--from`, unknown conditions and a monitoring outage during a verify, in-process:
the engine with test_engine's fake kinds, fake clock and fake Interaction (no service)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ditsops.base.errors import ExitCode, TargetUnreachable
from ditsops.core import steps as step_kinds
from ditsops.core.conditions import parse_condition
from ditsops.core.config import Settings
from ditsops.core.engine import RunOptions, run_runbook
from ditsops.core.guards import FiringNow, OtherAlert, header_rows
from ditsops.core.model import Runbook, Step
from ditsops.core.record import RunRecord, read_events
from ditsops.core.results import Status
from ditsops.core.resume import prior_from_events
from tests import test_engine as engine
from tests.test_engine import CHECK, FAILING, FIX, RECOVERED, VERIFY, FakeClock, FakeUI, Run, World


@pytest.fixture(autouse=True)
def world() -> Iterator[World]:
    """test_engine's fake target and kinds, fresh for each test."""
    registry = step_kinds.all_kinds()
    keys = [step_kinds.register(kind)().registry_key for kind in (engine.FakeCheck, engine.FakeFix)]
    engine.WORLD = World()
    try:
        yield engine.WORLD
    finally:
        for key in keys:
            registry.pop(key, None)


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Run]:
    def walk(*steps: Step, ui: FakeUI | None = None, **options: Any) -> Run:
        ui, clock = ui or FakeUI(), FakeClock()
        options.setdefault("interactive", True)
        record = RunRecord.create("practice", frozenset(), tmp_path)
        runbook = Runbook(name="practice", title="Practice", steps=steps)
        target = [("fake", "the fake target")]
        outcome = run_runbook(
            runbook, {}, Settings(), ui, RunOptions(**options), record, target, clock=clock, sleep=clock.sleep
        )
        return Run(outcome, ui, clock, read_events(record.path))

    return walk


GATED_FIX = replace(FIX, when=(parse_condition("errors failing"),))
EARLIER = "20261207T031200Z-practice-0badc0de"


def interrupted_after_the_fix() -> list[dict[str, Any]]:
    """The record of a run stopped by Ctrl-C while it waited after its fix: no `step` line
    for the fix, only what the backend accepted."""
    return [
        {"event": "run-start", "run": EARLIER, "runbook": "practice", "params": {}},
        {"event": "step", "step": "errors", "status": "failing", "value": FAILING, "summary": "15"},
        {"event": "preview", "step": "fix", "summary": "fix dits-server (plan 1)"},
        {"event": "decision", "step": "fix", "approved": True, "how": "answered y", "target": "dits-server"},
        {"event": "applied", "step": "fix", "summary": "fixed dits-server", "undo": "unfix", "ts": "2026-12-07T03:12"},
        {"event": "run-end", "exit_code": 130, "reason": "interrupted after step fix was applied (Ctrl-C)"},
    ]


def readings(world, *values: Any) -> None:
    """The check's next readings; an exception is a reading that could not be taken."""
    queue = list(values)

    def read() -> float:
        world.checks += 1
        value = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(value, Exception):
            raise value
        return value

    world.read = read


def test_a_resumed_run_does_not_offer_the_applied_fix_again_and_waits_for_the_verify(run, world):
    prior = prior_from_events(EARLIER, interrupted_after_the_fix())
    readings(world, FAILING, FAILING, FAILING, RECOVERED)  # the fix takes a while to show
    done = run(CHECK, GATED_FIX, VERIFY, interactive=False, assume_yes=True, resumed=prior)
    assert world.previews == 0 and world.applied == 0  # not previewed, not applied again
    assert done.status("fix") == Status.APPLIED
    assert done.summary("fix") == f"applied in run {EARLIER}, not offered again: fixed dits-server (undo: unfix)"
    assert done.clock.slept == 4  # waited as if the fix were just made: two re-checks 2 s apart
    assert done.outcome.exit_code == ExitCode.OK and done.outcome.reason == "resolved: verified by recovered"
    start = done.events[0]
    assert start["event"] == "run-start" and start["parent"] == EARLIER and start["incident"] is None
    assert done.outcome.parent == EARLIER


def test_a_resume_of_a_resume_still_knows_the_fix_came_from_the_first_run(run, world):
    first = prior_from_events(EARLIER, interrupted_after_the_fix())
    readings(world, FAILING)  # the fix does not help: the second run ends not resolved
    second = run(CHECK, GATED_FIX, VERIFY, interactive=False, resumed=first)
    again = prior_from_events(second.outcome.record.run_id, second.events)
    assert again.applied["fix"].run == EARLIER and again.applied["fix"].undo == "unfix"
    assert again.applied["fix"].target == "dits-server"
    third = run(CHECK, GATED_FIX, VERIFY, interactive=False, resumed=again)
    assert world.previews == 0 and third.outcome.exit_code == ExitCode.CHECK_FAILED
    assert third.summary("fix").startswith(f"applied in run {EARLIER}")


def test_from_never_offers_a_step_whose_condition_names_a_step_with_no_result(run, world):
    readings(world, RECOVERED)  # a healthy service
    done = run(CHECK, GATED_FIX, VERIFY, from_step="fix", ui=FakeUI(answers=[True]))
    assert world.previews == 0 and done.ui.asked == []
    assert done.summary("fix") == "runs when errors is failing; it did not run"
    assert done.status("recovered") == Status.OK


def test_a_resume_from_a_later_step_holds_conditions_against_the_earlier_results(run, world):
    prior = prior_from_events(EARLIER, interrupted_after_the_fix()[:2])  # stopped before the fix
    readings(world, FAILING, RECOVERED)
    done = run(CHECK, GATED_FIX, VERIFY, from_step="fix", ui=FakeUI(answers=[True]), resumed=prior)
    assert world.previews == 1 and world.applied == 1  # errors was failing in the earlier run
    assert done.outcome.exit_code == ExitCode.OK


DOWN = TargetUnreachable("Prometheus unreachable at http://127.0.0.1:9: connection refused")


def test_an_unknown_condition_never_lets_yes_apply_without_a_terminal(run, world):
    readings(world, DOWN)
    done = run(CHECK, GATED_FIX, VERIFY, interactive=False, assume_yes=True)
    assert world.previews == 1 and world.applied == 0
    assert done.status("fix") == Status.REFUSED
    assert "errors failing is unknown: errors could not be read (Prometheus unreachable" in done.summary("fix")
    assert "--yes does not cover a condition that could not be checked" in done.summary("fix")
    assert done.outcome.exit_code == ExitCode.REFUSED


@pytest.mark.parametrize(("answer", "status", "applied"), [(False, Status.DECLINED, 0), (True, Status.APPLIED, 1)])
def test_an_unknown_condition_is_put_to_the_engineer_on_a_terminal(run, world, answer, status, applied):
    readings(world, DOWN, DOWN, RECOVERED)
    done = run(CHECK, GATED_FIX, ui=FakeUI(answers=[answer]))
    assert done.status("fix") == status and world.applied == applied and len(done.ui.asked) == 1
    assert any(line.startswith("unknown: errors failing is unknown") for line in done.ui.progress_lines)
    assert any(line.endswith("decide yourself (default No)") for line in done.ui.progress_lines)


def test_a_diagnostic_behind_an_unknown_condition_is_skipped_saying_so(run, world):
    readings(world, DOWN)
    gated_check = replace(CHECK, id="more", when=(parse_condition("errors above 5"),))
    done = run(CHECK, gated_check)
    assert done.status("more") == Status.SKIPPED
    assert done.summary("more").startswith("runs when errors above 5 is unknown: errors could not be read")


def test_monitoring_down_for_a_while_during_the_verify_is_waited_through(run, world):
    readings(world, FAILING, DOWN, DOWN, DOWN, DOWN, RECOVERED)
    done = run(CHECK, FIX, VERIFY, interactive=False, assume_yes=True)
    assert done.outcome.exit_code == ExitCode.OK and done.outcome.reason == "resolved: verified by recovered"
    assert done.clock.slept == 8  # four re-checks that could not reach, 2 s apart
    assert any("could not be read since" in line for line in done.ui.progress_lines)


def test_monitoring_down_for_the_whole_window_is_not_verified_naming_the_change(run, world):
    readings(world, FAILING, DOWN)
    done = run(CHECK, FIX, VERIFY, interactive=False, assume_yes=True)
    assert done.outcome.exit_code == ExitCode.UNREACHABLE
    assert done.clock.slept == 60  # the verify's whole window
    reason = done.outcome.reason
    assert reason.startswith("not verified: fake unreachable since ")
    assert reason.endswith(" UTC; applied: fix of dits-server (undo: unfix); check errors by hand (error ratio)")


# -- the whole incident: other alerts firing -------------------------------------------------

DB_ALERT = OtherAlert(
    "DatabaseConnectionsExhausted",
    "critical",
    "db-connections-exhausted",
    "ditsops runbook --alert DatabaseConnectionsExhausted",
)
GUARDED_FIX = replace(FIX, unless_firing=("DatabaseConnectionsExhausted",))


def test_a_fix_guarded_by_another_firing_alert_is_not_offered_and_the_verdict_names_it(run, world):
    done = run(CHECK, GUARDED_FIX, VERIFY, interactive=False, assume_yes=True, firing=lambda: FiringNow((DB_ALERT,)))
    assert world.previews == 0 and world.applied == 0
    assert done.summary("fix") == (
        "not while DatabaseConnectionsExhausted (critical) fires; "
        "run its runbook first: ditsops runbook --alert DatabaseConnectionsExhausted"
    )
    assert done.outcome.reason.endswith(
        "; still firing: DatabaseConnectionsExhausted (critical): ditsops runbook --alert DatabaseConnectionsExhausted"
    )
    assert done.events[0]["firing"] == ["DatabaseConnectionsExhausted"]
    assert done.outcome.still_firing == ["DatabaseConnectionsExhausted"]


def test_a_guard_whose_alert_does_not_fire_lets_the_fix_run(run, world):
    done = run(CHECK, GUARDED_FIX, VERIFY, interactive=False, assume_yes=True, firing=lambda: FiringNow(()))
    assert world.applied == 1 and done.outcome.exit_code == ExitCode.OK
    assert "still firing" not in done.outcome.reason


def test_a_guard_that_could_not_be_read_never_lets_yes_apply(run, world):
    down = FiringNow(problem="Prometheus unreachable at http://127.0.0.1:9")
    done = run(CHECK, GUARDED_FIX, VERIFY, interactive=False, assume_yes=True, firing=lambda: down)
    assert world.applied == 0 and done.status("fix") == Status.REFUSED
    assert "unless DatabaseConnectionsExhausted fires is unknown: Prometheus unreachable" in done.summary("fix")


def test_a_storm_of_other_alerts_is_listed_five_then_counted():
    storm = FiringNow(tuple(OtherAlert(f"Alert{n}", "warning", None, "") for n in range(8)))
    rows = header_rows("Alert0", storm)  # the runbook's own alert is not "also firing"
    assert [value for _, value in rows][:5] == [f"Alert{n} (warning) (no runbook answers it)" for n in range(1, 6)]
    assert rows[-1] == ("also firing", "and 2 more: ditsops alerts lists them") and len(rows) == 6
    assert header_rows("Alert0", FiringNow(problem="cannot reach Prometheus")) == [
        ("also firing", "unknown: cannot reach Prometheus")
    ]
