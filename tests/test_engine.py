"""The engine in-process (core/engine.py, core/acting.py): every verdict and every decision
path, with a fake step kind, a fake Interaction, a fake clock and a fake sleep. No service,
no subprocess, no real waiting: the whole module runs in well under a second."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ditsops.base.errors import ConfigError, DitsopsError, ExitCode, StateMoved, TargetUnreachable
from ditsops.core import steps as step_kinds
from ditsops.core.acting import REFUSED_NO_TERMINAL
from ditsops.core.config import Settings
from ditsops.core.engine import RunOptions, RunOutcome, run_runbook
from ditsops.core.lease import Holder, LeaseHeld
from ditsops.core.model import Runbook, Step, Threshold
from ditsops.core.record import RunRecord, read_events
from ditsops.core.results import Preview, Status, StepResult
from ditsops.core.steps.base import ActionKind, FieldReader, RunContext, StepKind
from ditsops.core.steps.note import NoteSpec
from ditsops.core.steps.verify import VerifySpec

TARGET = "dits-server"  # what a production profile makes the engineer type
FAILING, RECOVERED = 15.0, 0.3  # the check fails above 5


@dataclass
class FakeLease:
    """A target lease another engineer may hold; `force` takes it over, as on Kubernetes."""

    held_by: Holder | None = None
    target: str = TARGET
    forced: bool = False
    displaced: Holder | None = None
    released: int = 0

    def acquire(self, *, force: bool = False) -> None:
        if self.held_by is not None and not force:
            raise LeaseHeld(self.target, self.held_by)
        self.forced, self.displaced, self.held_by = force, self.held_by, None

    def release(self) -> None:
        self.released += 1

    def check(self) -> None:
        pass


@dataclass
class World:
    """The fake target both fake kinds act on."""

    values: list[float] = field(default_factory=lambda: [FAILING])  # the check's next readings; the last repeats
    fixed: float | None = RECOVERED  # the reading once the fix applied (None: the fix does not help)
    failure: DitsopsError | None = None  # what the check raises instead of reading
    moves: int = 0  # how many applies find the target moved since their preview
    nothing_to_do: bool = False
    lease: FakeLease | None = None
    checks: int = 0
    previews: int = 0
    applied: int = 0

    def read(self) -> float:
        self.checks += 1
        if self.failure is not None:
            raise self.failure
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


WORLD = World()  # replaced per test by the `world` fixture; the kinds are registered once per test


class FakeCheck(StepKind):
    key = "fakecheck"
    target = "fake"
    thresholds = True

    def parse(self, value: Any, reader: FieldReader) -> Any:
        return value

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        return "read the fake gauge"

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        value = WORLD.read()
        return StepResult(Status.INFO, value=value)


class FakeFix(ActionKind):
    key = "fakefix"
    target = "fake"

    def parse(self, value: Any, reader: FieldReader) -> Any:
        return value

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        return f"fix {TARGET}"

    def lease(self, step: Step, ctx: RunContext) -> Any:
        return WORLD.lease

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        WORLD.previews += 1
        return Preview(target=TARGET, summary=f"fix {TARGET} (plan {WORLD.previews})", empty=WORLD.nothing_to_do)

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        if WORLD.moves:
            WORLD.moves -= 1
            raise StateMoved(f"{TARGET} was scaled by someone else")
        WORLD.applied += 1
        ctx.accepted(f"fixed {TARGET}", undo="unfix")
        if WORLD.fixed is not None:
            WORLD.values = [WORLD.fixed]
        return StepResult(Status.APPLIED, preview.summary)


@pytest.fixture(autouse=True)
def world() -> Iterator[World]:
    """A fresh fake target, and the fake kinds in the registry for this test only."""
    global WORLD
    registry = step_kinds.all_kinds()  # loads the real kinds first
    keys = [step_kinds.register(kind)().registry_key for kind in (FakeCheck, FakeFix)]
    WORLD = World()
    try:
        yield WORLD
    finally:
        for key in keys:
            registry.pop(key, None)


@dataclass
class FakeUI:
    """An Interaction answering from scripts, and remembering what it was told and asked."""

    answers: list[bool] = field(default_factory=list)  # confirm(): y/n, or a typed name matching
    manual_answer: bool | None = True
    go_on_despite_lease: bool = False
    asked: list[tuple[str, bool]] = field(default_factory=list)  # (preview summary, production)
    moved: list[str] = field(default_factory=list)
    lease_messages: list[str] = field(default_factory=list)
    progress_lines: list[str] = field(default_factory=list)
    finished: RunOutcome | None = None

    def run_started(self, runbook: Runbook, params: dict[str, Any], target: list[tuple[str, str]]) -> None: ...
    def step_started(self, step: Step, number: int, total: int, shown: str) -> None: ...
    def step_finished(self, step: Step, result: StepResult) -> None: ...
    def show_preview(self, step: Step, preview: Preview) -> None: ...
    def escalate(self, reminder: Any, elapsed: float) -> None: ...
    def run_interrupted(self) -> None: ...

    def confirm(self, step: Step, preview: Preview, *, production: bool) -> bool:
        self.asked.append((preview.summary, production))
        return self.answers.pop(0)

    def manual(self, step: Step, text: str) -> bool | None:
        return self.manual_answer

    def progress(self, step: Step, message: str, *, live: bool = False) -> None:
        self.progress_lines.append(message)

    def run_finished(self, outcome: RunOutcome) -> None:
        self.finished = outcome

    def state_moved(self, step: Step, what: str) -> None:
        self.moved.append(what)

    def lease_held(self, step: Step, message: str) -> bool:
        self.lease_messages.append(message)
        return self.go_on_despite_lease


class FakeClock:
    """time.monotonic and time.sleep for the run: sleeping only moves the clock on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


CHECK = Step(id="errors", title="Error ratio", kind="fakecheck", spec=None, threshold=Threshold(fail=5.0))
FIX = Step(id="fix", title="Fix it", kind="fakefix", spec=None)
VERIFY = Step(id="recovered", title="Recovered", kind="verify", spec=VerifySpec("errors", 60.0, 2.0, "ok"))
HUMAN = Step(id="expand", title="Expand the volume", kind="note", spec=NoteSpec("Expand it.", "the volume expanded"))


@dataclass
class Run:
    outcome: RunOutcome
    ui: FakeUI
    clock: FakeClock
    events: list[dict[str, Any]]

    def status(self, step_id: str) -> Any:
        return self.outcome.latest[step_id].status

    def summary(self, step_id: str) -> str:
        return self.outcome.latest[step_id].summary

    def decisions(self) -> list[str]:
        return [e["how"] for e in self.events if e["event"] == "decision"]


@pytest.fixture
def run(tmp_path: Path):
    def walk(*steps: Step, ui: FakeUI | None = None, production: bool = False, **options: Any) -> Run:
        ui = ui or FakeUI()
        clock = FakeClock()
        options.setdefault("interactive", True)
        record = RunRecord.create("practice", frozenset(), tmp_path)
        outcome = run_runbook(
            Runbook(name="practice", title="Practice", steps=steps or (CHECK, FIX, VERIFY)),
            {},
            Settings(production=production),
            ui,
            RunOptions(**options),
            record,
            [("fake", "the fake target")],
            clock=clock,
            sleep=clock.sleep,
        )
        assert ui.finished is outcome
        return Run(outcome, ui, clock, read_events(record.path))

    return walk


# -- verdicts --------------------------------------------------------------------------------


def test_a_fix_confirmed_and_verified_resolves(run, world):
    done = run(ui=FakeUI(answers=[True]))
    assert done.outcome.exit_code == ExitCode.OK and done.outcome.reason == "resolved: verified by recovered"
    assert world.applied == 1 and done.status("fix") == Status.APPLIED
    assert done.decisions() == ["answered y"]
    assert done.summary("recovered").startswith("recovered") and done.clock.slept == 0  # at once: no wait
    assert [e["event"] for e in done.events if e["event"] in ("applied", "lease")] == ["applied"]


def test_a_fix_that_does_not_help_waits_out_the_verify_and_names_the_value(run, world):
    world.fixed = None
    done = run(ui=FakeUI(answers=[True]))
    assert done.outcome.exit_code == ExitCode.CHECK_FAILED
    assert done.outcome.reason == "not resolved: errors failing at 15"
    assert done.clock.slept == 60  # re-checked every 2 s for the verify's whole minute
    assert done.summary("recovered").startswith("not recovered after 1m00s: 15")
    assert world.checks == 1 + 31 and len(done.ui.progress_lines) == 30


def test_a_verify_waits_for_recovery_after_a_change(run, world, monkeypatch):
    world.fixed = None
    done_values = [FAILING, FAILING, FAILING, RECOVERED]

    def fix_then_slow_recovery(step, preview, ctx):  # recovers on the 4th re-check
        world.applied += 1
        world.values = list(done_values)
        return StepResult(Status.APPLIED, "fixed")

    monkeypatch.setattr(FakeFix, "apply", staticmethod(fix_then_slow_recovery))
    done = run(ui=FakeUI(answers=[True]))
    assert done.outcome.exit_code == ExitCode.OK
    assert done.clock.slept == 6 and done.summary("recovered").startswith("recovered (after 6.0s): 0.3")


def test_without_a_change_the_verify_looks_once_and_does_not_wait(run, world):
    world.nothing_to_do = True
    done = run()
    assert done.status("fix") == Status.NOTHING_TO_DO and done.ui.asked == []
    assert done.clock.slept == 0 and world.checks == 2
    assert done.summary("recovered").startswith("no change made in this run; still")
    assert done.outcome.exit_code == ExitCode.CHECK_FAILED


def test_a_declined_fix_is_not_resolved_and_changes_nothing(run, world):
    done = run(ui=FakeUI(answers=[False]))
    assert done.status("fix") == Status.DECLINED and world.applied == 0
    assert done.decisions() == ["declined (answered n)"]
    assert done.outcome.exit_code == ExitCode.CHECK_FAILED
    assert done.outcome.reason.startswith("not resolved: fix declined: fix; errors failing at 15")


def test_without_a_terminal_and_without_yes_the_fix_is_refused(run, world):
    done = run(interactive=False)
    assert done.status("fix") == Status.REFUSED and world.applied == 0 and done.ui.asked == []
    assert done.decisions() == [REFUSED_NO_TERMINAL]
    assert done.outcome.exit_code == ExitCode.REFUSED
    assert done.outcome.reason == "refused destructive steps: fix (nothing changed)"


def test_yes_without_a_terminal_applies(run, world):
    done = run(interactive=False, assume_yes=True)
    assert world.applied == 1 and done.decisions() == ["confirmed in advance with --yes"]
    assert done.outcome.exit_code == ExitCode.OK


def test_a_moved_state_without_a_terminal_is_refused_although_yes_approved_the_first_plan(run, world):
    world.moves = 1
    done = run(interactive=False, assume_yes=True)
    assert world.applied == 0 and world.previews == 1
    assert done.status("fix") == Status.REFUSED
    assert done.summary("fix").startswith("the target changed since the preview, nothing was changed")
    assert done.ui.moved == [f"{TARGET} was scaled by someone else"]
    assert done.outcome.exit_code == ExitCode.REFUSED
    assert [e["event"] for e in done.events].count("state-moved") == 1


@pytest.mark.parametrize(
    ("second_answer", "applied", "status"), [(False, 0, Status.DECLINED), (True, 1, Status.APPLIED)]
)
def test_a_moved_state_on_a_terminal_is_previewed_and_asked_again(run, world, second_answer, applied, status):
    world.moves = 1
    done = run(ui=FakeUI(answers=[True, second_answer]))
    assert world.previews == 2 and world.applied == applied and done.status("fix") == status
    assert [summary for summary, _ in done.ui.asked] == [f"fix {TARGET} (plan 1)", f"fix {TARGET} (plan 2)"]
    assert done.decisions() == ["answered y", "answered y" if second_answer else "declined (answered n)"]
    expected = ExitCode.OK if second_answer else ExitCode.CHECK_FAILED
    assert done.outcome.exit_code == expected


def test_yes_on_a_terminal_approves_only_the_plan_it_saw(run, world):
    world.moves = 1
    done = run(ui=FakeUI(answers=[True]), assume_yes=True)
    assert done.decisions() == ["confirmed in advance with --yes", "answered y"]
    assert len(done.ui.asked) == 1 and world.applied == 1


def test_a_target_that_keeps_moving_is_refused(run, world):
    world.moves = 100
    done = run(ui=FakeUI(answers=[True] * 10))
    assert world.applied == 0 and done.status("fix") == Status.REFUSED
    assert "kept changing" in done.summary("fix") and done.outcome.exit_code == ExitCode.REFUSED


def test_production_yes_with_the_matching_confirm_target_applies(run, world):
    done = run(production=True, interactive=False, assume_yes=True, confirm_targets=(TARGET,))
    assert world.applied == 1 and done.outcome.exit_code == ExitCode.OK
    assert done.decisions() == [f"confirmed in advance with --yes --confirm-target {TARGET}"]


@pytest.mark.parametrize("named", [(), ("dits-worker",)])
def test_production_yes_without_a_matching_confirm_target_is_refused(run, world, named):
    done = run(production=True, interactive=False, assume_yes=True, confirm_targets=named)
    assert world.applied == 0 and done.status("fix") == Status.REFUSED
    assert f"--yes needs --confirm-target {TARGET}" in done.summary("fix")
    assert done.outcome.exit_code == ExitCode.REFUSED


def test_production_yes_on_a_terminal_without_confirm_target_asks_for_the_name(run, world):
    done = run(ui=FakeUI(answers=[False]), production=True, assume_yes=True)
    assert done.ui.asked == [(f"fix {TARGET} (plan 1)", True)]
    assert done.decisions() == ["declined (the typed name did not match)"] and world.applied == 0


def test_production_on_a_terminal_the_typed_name_confirms(run, world):
    done = run(ui=FakeUI(answers=[True]), production=True)
    assert done.decisions() == ["typed the target name"] and world.applied == 1


def test_dry_run_previews_and_changes_nothing(run, world):
    done = run(dry_run=True, interactive=False)
    assert done.status("fix") == Status.PREVIEWED and world.applied == 0 and done.decisions() == []
    assert done.clock.slept == 0


@pytest.mark.parametrize(
    ("failure", "code", "reason"),
    [
        (
            TargetUnreachable("connection refused"),
            ExitCode.UNREACHABLE,
            # the verify named with what it is: a bare `recovered` read as good news
            "target unreachable in: errors (Error ratio: fake), recovered (re-check of errors: fake)",
        ),
        (DitsopsError("the query failed"), ExitCode.ERROR, "steps failed: errors, recovered"),
    ],
)
def test_a_check_that_fails_to_run_decides_the_exit_code(run, world, failure, code, reason):
    world.failure = failure
    done = run(CHECK, VERIFY)
    assert done.status("errors") == Status.ERROR
    assert done.outcome.exit_code == code and done.outcome.reason == reason


def test_a_run_that_reached_no_target_is_a_usage_error(run, world):
    world.failure = ConfigError("no fake URL configured", hint="set DITSOPS_FAKE_URL")
    done = run(CHECK, VERIFY)
    assert done.status("errors") == Status.SKIPPED and done.outcome.latest["errors"].not_configured
    assert done.outcome.exit_code == ExitCode.USAGE
    assert done.outcome.reason.startswith("no target configured: ")
    assert "no fake URL configured (set DITSOPS_FAKE_URL)" in done.outcome.reason


def test_failing_checks_without_a_verify_are_not_resolved(run, world):
    done = run(CHECK)
    assert done.outcome.exit_code == ExitCode.CHECK_FAILED
    assert done.outcome.reason == "not resolved: errors failing at 15"
    world.values = [RECOVERED]
    assert run(CHECK).outcome.reason == "completed: no check failing"


def test_a_ticked_manual_fix_counts_as_a_change_and_the_verify_waits(run, world):
    world.values = [FAILING, FAILING, RECOVERED]
    done = run(CHECK, HUMAN, VERIFY, ui=FakeUI(manual_answer=True))
    assert done.status("expand") == Status.DONE
    assert done.clock.slept == 2 and done.outcome.exit_code == ExitCode.OK


def test_a_manual_fix_nobody_ticked_is_no_change_and_names_the_task(run, world):
    done = run(CHECK, HUMAN, VERIFY, interactive=False)
    assert done.status("expand") == Status.PENDING and done.clock.slept == 0
    assert done.outcome.exit_code == ExitCode.CHECK_FAILED
    assert done.outcome.reason == "not resolved: errors failing at 15; needs the volume expanded"


def test_a_manual_check_without_needs_changes_nothing(run, world):
    check_only = Step(id="look", title="Look at the logs", kind="note", spec=NoteSpec("Read the logs."))
    done = run(CHECK, check_only, VERIFY, ui=FakeUI(manual_answer=True))
    assert done.status("look") == Status.DONE and done.clock.slept == 0
    assert done.outcome.exit_code == ExitCode.CHECK_FAILED


# -- leases ----------------------------------------------------------------------------------

ANA = Holder("oncall-ana@host", "20261201T104107Z-practice-ab12cd34", "fix", datetime(2026, 12, 1, tzinfo=UTC))


def test_a_held_lease_refuses_the_fix_without_a_terminal(run, world):
    world.lease = FakeLease(held_by=ANA)
    done = run(interactive=False, assume_yes=True)
    assert world.applied == 0 and world.previews == 0 and done.status("fix") == Status.REFUSED
    assert done.summary("fix").endswith("nothing changed (--ignore-lease overrides)")
    assert "is held by oncall-ana@host" in done.summary("fix")
    assert done.outcome.exit_code == ExitCode.REFUSED
    assert [e["event"] for e in done.events if e["event"].startswith("lease")] == ["lease-held", "lease-released"]


def test_a_held_lease_on_a_terminal_answered_no_declines(run, world):
    world.lease = FakeLease(held_by=ANA)
    done = run(ui=FakeUI(go_on_despite_lease=False))
    assert done.status("fix") == Status.DECLINED and world.applied == 0 and done.ui.asked == []
    assert len(done.ui.lease_messages) == 1 and done.outcome.exit_code == ExitCode.CHECK_FAILED


@pytest.mark.parametrize(
    ("options", "ui", "how"),
    [
        ({"interactive": False, "assume_yes": True, "ignore_lease": True}, FakeUI(), "--ignore-lease"),
        ({}, FakeUI(answers=[True], go_on_despite_lease=True), "answered y to going on"),
    ],
)
def test_a_held_lease_overridden_applies_and_is_on_record(run, world, options, ui, how):
    world.lease = FakeLease(held_by=ANA)
    done = run(ui=ui, **options)
    assert world.applied == 1 and world.lease.forced and world.lease.released == 1
    [override] = [e for e in done.events if e["event"] == "lease-override"]
    assert override["how"] == how and override["displaced"].startswith("oncall-ana@host")
    assert done.outcome.exit_code == ExitCode.OK


def test_a_free_lease_is_taken_and_released(run, world):
    world.lease = FakeLease()
    done = run(interactive=False, assume_yes=True)
    assert world.applied == 1 and world.lease.released == 1 and not world.lease.forced
    assert [e["event"] for e in done.events if e["event"].startswith("lease")] == ["lease", "lease-released"]


def test_a_step_skipped_for_its_condition_says_what_it_needed_and_what_was_found(run, world):
    from dataclasses import replace

    from ditsops.core.conditions import parse_condition

    checked = replace(CHECK, unit="percent")
    only_when_ok = replace(FIX, when=(parse_condition("errors ok"),))
    done = run(checked, only_when_ok)
    assert done.status("fix") == Status.SKIPPED
    assert done.summary("fix") == "runs when errors is ok; it is failing (15.0%)"
    assert world.previews == 0
