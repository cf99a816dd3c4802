"""How a run ends: one rule, the same on a terminal and off it, in the record and the report.

`resolved` (exit 0) only when every verify step of the run passed on its latest check and
no fix was declined. Anything else that leaves the incident open is `not resolved: <what
still fails, with its value>` (exit 3): a verify still failing, a check that could not run
(not configured), a declined fix, a runbook without verify steps whose checks fail. The
refusal (5), unreachable (4) and error (1) codes win over it, and a run that reached no
target at all is a usage error (2): nothing configured is never a success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ditsops.base.errors import ExitCode
from ditsops.core import steps as step_kinds
from ditsops.core.conditions import RUNS_WHEN
from ditsops.core.model import Escalation, Step
from ditsops.core.results import Status, StepResult
from ditsops.core.steps.note import NoteSpec
from ditsops.core.steps.verify import RECOVERED, VerifySpec
from ditsops.core.thresholds import format_value

CONDITION_NOT_MET = RUNS_WHEN  # how the summary of a step skipped for its `when:` starts


@dataclass(frozen=True)
class Verdict:
    exit_code: ExitCode
    reason: str

    @property
    def resolved(self) -> bool:
        return self.exit_code == ExitCode.OK


@dataclass(frozen=True)
class Walked:
    """One step as the verdict sees it: the step and the result it ended its turn with."""

    step: Step
    result: StepResult


def conclude(
    walked: Sequence[Walked],
    latest: dict[str, StepResult],
    steps_by_id: dict[str, Step],
    escalation: tuple[Escalation, ...] = (),
) -> Verdict:
    refused = [w.step.id for w in walked if w.result.status == Status.REFUSED]
    unreachable = [w.step.id for w in walked if w.result.unreachable]
    errors = [w.step.id for w in walked if w.result.status == Status.ERROR and not w.result.unreachable]
    if refused:
        return Verdict(ExitCode.REFUSED, f"refused destructive steps: {', '.join(refused)} (nothing changed)")
    if unreachable:
        return Verdict(ExitCode.UNREACHABLE, _unreachable(walked, steps_by_id))
    if errors:
        return Verdict(ExitCode.ERROR, f"steps failed: {', '.join(errors)}")
    if _reached_no_target(walked):
        missing = sorted({w.result.summary.removeprefix("not configured: ") for w in walked if w.result.not_configured})
        return Verdict(
            ExitCode.USAGE,
            "no target configured: use --profile NAME (or --profile sandbox) or the settings below; "
            + "; ".join(missing),
        )

    verifies = [w for w in walked if step_kinds.kind_of(w.step.kind).concludes]
    if verifies:
        open_checks = _unverified(verifies, latest, steps_by_id)
    else:
        open_checks = [
            _describe(step_id, result, steps_by_id.get(step_id))
            for step_id, result in latest.items()
            if result.status == Status.FAILING
        ]
    declined = [w.step.id for w in walked if w.result.status == Status.DECLINED]
    if open_checks or declined:
        parts = []
        if declined:
            parts.append(f"fix declined: {', '.join(declined)}")
        parts += open_checks
        needs = _human_tasks(walked)
        if needs:
            parts.append("needs " + "; ".join(needs))
        if escalation:
            parts.append(f"escalate: {escalation[0].say}")
        return Verdict(ExitCode.CHECK_FAILED, "not resolved: " + "; ".join(parts))
    if verifies:
        return Verdict(ExitCode.OK, "resolved: verified by " + ", ".join(dict.fromkeys(w.step.id for w in verifies)))
    return Verdict(ExitCode.OK, "completed: no check failing" if walked else "no steps run")


# What a step kind's target is called in a verdict.
_TARGET_NAMES = {
    "prometheus": "Prometheus",
    "alertmanager": "Alertmanager",
    "database": "PostgreSQL",
    "kubernetes": "the Kubernetes API",
    "dits": "the Dits server",
}


def _target_name(step: Step | None) -> str:
    target = step_kinds.kind_of(step.kind).target if step else ""
    return _TARGET_NAMES.get(target, target or "its target")


def _unreachable(walked: Sequence[Walked], steps_by_id: dict[str, Step]) -> str:
    """Exit 4 in words: a verify that never got an answer says what it could not check,
    since when, what this run changed meanwhile and what to do by hand; any other step
    says which step and what it reads (a bare step id like `recovered` reads as good news)."""
    applied = [_change(w) for w in walked if w.result.status == Status.APPLIED]
    parts: list[str] = []
    others: list[str] = []
    for w in walked:
        if not w.result.unreachable:
            continue
        data = w.result.data if isinstance(w.result.data, dict) else {}
        verified = steps_by_id.get(str(data.get("verified", "")))
        if applied and verified is not None and data.get("unreachable_since"):
            checked = verified.title[:1].lower() + verified.title[1:]
            parts.append(
                f"not verified: {_target_name(verified)} unreachable since {data['unreachable_since']} UTC"
                + f"; applied: {', '.join(applied)}"
                + f"; check {verified.id} by hand ({checked})"
            )
        elif isinstance(w.step.spec, VerifySpec):
            reads = steps_by_id.get(w.step.spec.step)
            others.append(f"{w.step.id} (re-check of {w.step.spec.step}: {_target_name(reads)})")
        else:
            others.append(f"{w.step.id} ({w.step.title}: {_target_name(w.step)})")
    if others:
        parts.append("target unreachable in: " + ", ".join(others))
        if applied and not any(p.startswith("not verified") for p in parts):
            parts.append(f"applied: {', '.join(applied)}")
    return "; ".join(parts)


def _change(walked: Walked) -> str:
    """An applied change as the verdict names it: `rollback of dits-server (undo: …)`."""
    data = walked.result.data if isinstance(walked.result.data, dict) else {}
    target, undo = data.get("target"), data.get("undo")
    named = f"{walked.step.id} of {target}" if isinstance(target, str) and target else walked.step.id
    return f"{named} (undo: {undo})" if isinstance(undo, str) and undo else named


def _reached_no_target(walked: Sequence[Walked]) -> bool:
    """Every step that talks to a target was skipped for want of settings (or for a
    condition on such a step): the run looked at nothing."""
    targeted = [w for w in walked if step_kinds.kind_of(w.step.kind).target or w.result.not_configured]
    return (
        bool(targeted)
        and any(w.result.not_configured for w in targeted)
        and all(w.result.not_configured or w.result.status == Status.SKIPPED for w in targeted)
    )


def _unverified(verifies: Sequence[Walked], latest: dict[str, StepResult], steps_by_id: dict[str, Step]) -> list[str]:
    """The verified checks whose latest result is not recovered, each with its value."""
    open_checks: dict[str, str] = {}
    for walked in verifies:
        spec = walked.step.spec
        if not isinstance(spec, VerifySpec):
            continue  # verify is the one kind that concludes
        result = latest.get(spec.step)
        if result is None:
            open_checks[spec.step] = f"{spec.step} not checked in this run"
        elif result.status not in RECOVERED[spec.until]:
            open_checks[spec.step] = _describe(spec.step, result, steps_by_id.get(spec.step))
    return list(open_checks.values())


def _describe(step_id: str, result: StepResult, step: Step | None) -> str:
    if result.not_configured:
        return f"{step_id} not checked ({result.summary})"
    if result.status == Status.SKIPPED:
        return f"{step_id} not checked ({result.summary})"
    if result.value is not None:
        return (
            f"{step_id} {result.status} at {format_value(result.value, (step.unit if step else None) or result.unit)}"
        )
    return f"{step_id} {result.status}"


def _human_tasks(walked: Sequence[Walked]) -> list[str]:
    """The `needs:` of manual fixes that applied to this incident (their condition held)."""
    tasks = []
    for w in walked:
        spec = w.step.spec
        if isinstance(spec, NoteSpec) and spec.needs and not w.result.summary.startswith(CONDITION_NOT_MET):
            tasks.append(spec.needs)
    return list(dict.fromkeys(tasks))
