"""The runbook model: what the loader produces and the engine walks. Frozen values only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ditsops.core.params import ParamSpec

# Step states a condition can test; 'not-ok' means warning or failing.
CONDITION_STATES = ("ok", "warning", "failing", "not-ok", "applied", "declined", "skipped", "error")


@dataclass(frozen=True)
class Threshold:
    warn: float | None = None
    fail: float | None = None
    # 'above': higher is worse (error ratio); 'below': lower is worse (free disk).
    direction: str = "above"


@dataclass(frozen=True)
class Condition:
    """`<step> <state>` or `<step> above|below <number>`; never evaluated as code."""

    step: str
    state: str | None = None
    comparison: str | None = None  # 'above' | 'below'
    bound: float | None = None

    def describe(self) -> str:
        if self.state:
            return f"{self.step} {self.state}"
        return f"{self.step} {self.comparison} {self.bound:g}"


@dataclass(frozen=True)
class Escalation:
    after: timedelta
    say: str


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    kind: str  # registry key of its step kind, e.g. "sql", "action:terminate-backends"
    spec: object  # the kind's own parsed, typed fields: its kind reads them with `spec_of(step)`
    why: str = ""
    when: tuple[Condition, ...] = ()
    threshold: Threshold | None = None
    unit: str | None = None
    line: int = 0
    unless_firing: tuple[str, ...] = ()  # alert names that make this step harmful while they fire


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    steps: tuple[Step, ...]
    params: tuple[ParamSpec, ...] = ()
    escalation: tuple[Escalation, ...] = ()
    alert: str | None = None
    severity: str | None = None
    summary: str = ""
    source: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)
