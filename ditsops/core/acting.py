"""One destructive step: preview, decide, apply — onto exactly the state that was previewed.

The promise kept here is "what the engineer confirms is what happens":

- The decision covers one preview. When the target moved between the preview and the
  apply (the kind raises StateMoved: a Kubernetes 409, a scale precondition, a silence
  that changed), nothing is sent; on a terminal the engineer sees what moved and the new
  plan and is asked again (`--yes` never approves a plan nobody saw), without a terminal
  the step is refused (exit 5).
- What the backend accepted is recorded as applied the moment it is accepted (the kind
  calls `ctx.accepted(...)`), before any wait that follows, so a Ctrl-C, a lost connection
  or a timeout during the rollout wait still leaves "applied" and its undo in the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import DitsopsError, StateMoved, TargetUnreachable
from ditsops.core.lease import LeaseHeld
from ditsops.core.record import RunRecord, who
from ditsops.core.results import Preview, Status, StepResult

if TYPE_CHECKING:
    from ditsops.core.lease import TargetLease
    from ditsops.core.model import Step
    from ditsops.core.steps.base import ActionKind, RunContext
    from ditsops.core.walk import Interaction, RunOptions

NO_TERMINAL = "no terminal to confirm at (use --yes to allow destructive steps)"
REFUSED_NO_TERMINAL = f"refused: {NO_TERMINAL}"  # as the record's decision says it
MAX_REPREVIEWS = 5  # a target that keeps moving is not something to keep chasing


@dataclass
class Accepted:
    """What the backend took for the step in progress, as the kind reported it."""

    summary: str
    data: dict[str, object] = field(default_factory=dict)

    @property
    def undo(self) -> str | None:
        undo = self.data.get("undo")
        return undo if isinstance(undo, str) else None


class Decided(Enum):
    APPROVED = "approved"  # --yes (and --confirm-target on production), y, or the typed name
    DECLINED = "declined"  # the engineer said no
    REFUSED = "refused"  # nobody could say yes: no terminal and no --yes, a moved state without a terminal


@dataclass(frozen=True)
class Decision:
    """Whether one preview may be applied, and in whose words."""

    decided: Decided
    reason: str  # "answered y", "declined (answered n)", "no terminal to confirm at (...)"

    @classmethod
    def approve(cls, reason: str) -> Decision:
        return cls(Decided.APPROVED, reason)

    @classmethod
    def decline(cls, reason: str) -> Decision:
        return cls(Decided.DECLINED, reason)

    @classmethod
    def refuse(cls, reason: str) -> Decision:
        return cls(Decided.REFUSED, reason)

    @property
    def approved(self) -> bool:
        return self.decided is Decided.APPROVED

    @property
    def how(self) -> str:
        """As the record's decision line says it: a refusal says so first."""
        return f"refused: {self.reason}" if self.decided is Decided.REFUSED else self.reason

    def not_applied(self) -> StepResult:
        """What a step ends with when its preview was not approved."""
        return StepResult(Status.REFUSED if self.decided is Decided.REFUSED else Status.DECLINED, self.reason)


class Acting:
    def __init__(self, ctx: RunContext, ui: Interaction, options: RunOptions, record: RunRecord) -> None:
        self.ctx, self.ui, self.options, self.record = ctx, ui, options, record
        self.accepted: dict[str, Accepted] = {}  # step id -> what its backend accepted
        self.current: str | None = None  # the step last acted on (for an interruption's message)
        self.applying: Step | None = None  # the step being acted on now: what `applied` is about
        self.unknown: str | None = None  # the step's condition could not be decided: what is unknown

    def act(
        self, kind: ActionKind[Any], step: Step, *, unknown: str | None = None
    ) -> tuple[Preview | None, StepResult]:
        """`unknown`: the step's condition could not be decided (an input errored): only a
        person at a terminal may decide it, by answering y; --yes never does."""
        self.current, self.applying, self.unknown = step.id, step, unknown
        lease = None if self.options.dry_run else kind.lease(step, self.ctx)
        try:
            if lease is not None:
                refusal = self._take(lease, step)
                if refusal is not None:
                    return None, refusal
            return self._act(kind, step, lease)
        except DitsopsError as error:
            done = self.accepted.get(step.id)
            if done is None:
                raise
            # The change went through; what failed was the wait or the read after it.
            return None, StepResult(
                Status.APPLIED,
                f"{done.summary}; then: {error.message}",
                warnings=[f"the change was applied, then: {error.message}"],
                data=done.data,
                unreachable=isinstance(error, TargetUnreachable),
            )
        finally:
            self.applying = None
            if lease is not None:
                lease.release()
                self.record.write("lease-released", step=step.id, target=lease.target)

    def _take(self, lease: TargetLease, step: Step) -> StepResult | None:
        """Hold the target's lease from preview to result; None when held. Another
        engineer's lease stops the step unless a person says go on (default no) or
        --ignore-lease says so in advance; either way it is on record."""
        try:
            lease.acquire()
        except LeaseHeld as held:
            self.record.write("lease-held", step=step.id, target=lease.target, holder=held.holder.describe())
            if self.options.ignore_lease:
                how = "--ignore-lease"
            elif self.options.interactive and self.ui.lease_held(step, held.message):
                how = "answered y to going on"
            else:
                where = "" if self.options.interactive else " (--ignore-lease overrides)"
                status = Status.DECLINED if self.options.interactive else Status.REFUSED
                return StepResult(status, f"{held.message}; nothing changed{where}")
            lease.acquire(force=True)
            displaced = lease.displaced.describe() if lease.displaced else held.holder.describe()
            self.record.write(
                "lease-override", step=step.id, target=lease.target, how=how, displaced=displaced, by=who()
            )
        else:
            self.record.write("lease", step=step.id, target=lease.target, run=self.ctx.run_id, by=who())
        odd = getattr(lease, "suspicious", None)
        if odd is not None:  # taken over as expired, but a person should know someone wrote it
            self.record.write("lease-suspicious", step=step.id, target=lease.target, holder=odd.describe())
            self.ui.progress(step, f"the lease on {lease.target} had unbelievable times, taken over: {odd.describe()}")
        return None

    def _act(self, kind: ActionKind[Any], step: Step, lease: TargetLease | None) -> tuple[Preview | None, StepResult]:
        preview = self._preview(kind, step)
        if preview.empty:
            # Printed as "nothing-to-do: <what the preview found>": the status says it once.
            return preview, StepResult(Status.NOTHING_TO_DO, preview.summary)
        if self.options.dry_run:
            return preview, StepResult(Status.PREVIEWED, "dry run: previewed, not applied")
        decision = self._decide(step, preview, again=False)
        for _ in range(MAX_REPREVIEWS):
            self._write_decision(step, preview, decision)
            if not decision.approved:
                return preview, decision.not_applied()
            try:
                if lease is not None:
                    lease.check()  # a lease lost while the engineer read the preview: do not act
                result = kind.apply(step, preview, self.ctx)
            except StateMoved as moved:
                self.record.write("state-moved", step=step.id, what=moved.message)
                self.ui.state_moved(step, moved.message)
                if not self.options.interactive:
                    return preview, StepResult(
                        Status.REFUSED,
                        f"the target changed since the preview, nothing was changed: {moved.message}",
                    )
                preview = self._preview(kind, step)
                if preview.empty:
                    return preview, StepResult(Status.NOTHING_TO_DO, f"not any more: {preview.summary}")
                decision = self._decide(step, preview, again=True)
                continue
            self.ctx.changed()
            return preview, result
        return preview, StepResult(Status.REFUSED, "the target kept changing under every preview; nothing was changed")

    def _preview(self, kind: ActionKind[Any], step: Step) -> Preview:
        preview = kind.preview(step, self.ctx)
        self.record.write("preview", step=step.id, summary=preview.summary, command=preview.command, items=preview.data)
        self.ui.show_preview(step, preview)
        return preview

    def _decide(self, step: Step, preview: Preview, *, again: bool) -> Decision:
        """`again`: a new plan after the state moved. --yes approved the first plan only."""
        production = self.ctx.settings.production
        if self.unknown is not None:
            if not self.options.interactive:
                return Decision.refuse(
                    f"{self.unknown}; a person must decide this at a terminal (--yes does not cover a condition "
                    "that could not be checked)"
                )
            self.ui.progress(step, f"unknown: {self.unknown}; decide yourself (default No)")
        elif self.options.assume_yes and not again:
            if not production:
                return Decision.approve("confirmed in advance with --yes")
            if preview.target in self.options.confirm_targets:
                return Decision.approve(f"confirmed in advance with --yes --confirm-target {preview.target}")
            if not self.options.interactive:
                return Decision.refuse(
                    f"a production profile: --yes needs --confirm-target {preview.target} "
                    "(the name a terminal would ask you to type)"
                )
        if not self.options.interactive:
            return Decision.refuse(NO_TERMINAL)
        if self.ui.confirm(step, preview, production=production):
            return Decision.approve("typed the target name" if production else "answered y")
        return Decision.decline("declined (the typed name did not match)" if production else "declined (answered n)")

    def _write_decision(self, step: Step, preview: Preview, decision: Decision) -> None:
        self.record.write(
            "decision", step=step.id, approved=decision.approved, how=decision.how, by=who(), target=preview.target
        )

    def applied(self, summary: str, data: dict[str, object]) -> None:
        """The backend accepted (part of) the change of the step being acted on: on record
        before anything else. Outside an action there is no change to record."""
        step = self.applying
        if step is None:
            return
        self.accepted[step.id] = Accepted(summary, data)
        self.record.write("applied", step=step.id, summary=summary, **data)

    def keep_undo(self, step: Step, result: StepResult, preview: Preview | None) -> None:
        """An applied step's result carries its target and the undo its backend reported,
        whatever else the kind put in it: the verdict and a resumed run name the change by them."""
        done = self.accepted.get(step.id)
        if done is None or result.status != Status.APPLIED:
            return
        if result.data is None:
            result.data = {}
        if isinstance(result.data, dict):
            if done.undo is not None:
                result.data.setdefault("undo", done.undo)
            if preview is not None and preview.target:
                result.data.setdefault("target", preview.target)

    def interrupted_message(self) -> str:
        """What to tell the engineer after Ctrl-C: whether the step in progress changed anything."""
        done = self.accepted.get(self.current or "")
        if done is None:
            return "interrupted; nothing further was changed"
        undo = f" (undo: {done.undo})" if done.undo else ""
        return f"interrupted after step {self.current} was applied: {done.summary}{undo}"
