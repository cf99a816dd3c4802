"""What a walk is given and what it gives back: its options, the Interaction it talks to the
engineer through, and its outcome. Kept apart from the engine so that the modules the
engine drives (core/acting.py) can name these types without importing the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ditsops.base.errors import ExitCode

if TYPE_CHECKING:
    from ditsops.core.guards import FiringNow
    from ditsops.core.model import Escalation, Runbook, Step
    from ditsops.core.params import ParamValue
    from ditsops.core.record import RunRecord
    from ditsops.core.results import Preview, StepResult
    from ditsops.core.resume import Prior


@dataclass(frozen=True)
class RunOptions:
    interactive: bool  # a person is at a terminal to answer
    assume_yes: bool = False  # --yes: destructive steps are confirmed in advance
    dry_run: bool = False
    from_step: str | None = None
    elapsed_before: float = 0.0  # seconds the incident was already running (escalation clock)
    # on a production profile --yes approves only the targets named here (--confirm-target),
    # as a terminal would make the engineer type them
    confirm_targets: tuple[str, ...] = ()
    ignore_lease: bool = False  # --ignore-lease: act although another ditsops holds the target
    resumed: Prior | None = None  # `runbook resume`: the earlier run this one continues
    # the alerts firing now (read at the start and for the verdict); None: not asked (a direct command)
    firing: Callable[[], FiringNow] | None = None
    # the incident this run joined (ditsops/incidents/): its first line carries it, so the
    # store links the run and every listing can tell which incident a run served
    incident: str | None = None


class Interaction(Protocol):
    def run_started(self, runbook: Runbook, params: dict[str, ParamValue], target: list[tuple[str, str]]) -> None: ...
    def step_started(self, step: Step, number: int, total: int, shown: str) -> None: ...
    def step_finished(self, step: Step, result: StepResult) -> None: ...
    def show_preview(self, step: Step, preview: Preview) -> None: ...
    def confirm(self, step: Step, preview: Preview, *, production: bool) -> bool: ...
    def manual(self, step: Step, text: str) -> bool | None: ...
    def progress(self, step: Step, message: str, *, live: bool = False) -> None: ...
    def escalate(self, reminder: Escalation, elapsed: float) -> None: ...
    def run_finished(self, outcome: RunOutcome) -> None: ...
    def run_interrupted(self) -> None: ...
    def state_moved(self, step: Step, what: str) -> None: ...
    def lease_held(self, step: Step, message: str) -> bool: ...


@dataclass
class StepOutcome:
    step: Step
    result: StepResult
    seconds: float
    preview: Preview | None = None


@dataclass
class RunOutcome:
    runbook: Runbook
    steps: list[StepOutcome] = field(default_factory=list)
    latest: dict[str, StepResult] = field(default_factory=dict)
    exit_code: ExitCode = ExitCode.OK
    reason: str = ""
    record: RunRecord | None = None
    report_command: str = ""  # how to turn the record into the postmortem timeline
    parent: str | None = None  # the run this one resumed
    still_firing: list[str] = field(default_factory=list)  # other critical alerts firing at the end
