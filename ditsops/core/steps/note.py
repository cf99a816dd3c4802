"""`note:` — a manual instruction the engineer carries out and ticks off.

- id: expand-volume
  title: Expand the storage volume
  note: Resize the PVC of /data (or the cloud volume) by at least 20%.
  needs: the /data volume expanded

A note with `needs:` is a manual fix: `needs` names the human task in a few words (plain
text, no placeholders). Ticked off, it counts as a change made in this run, so verify
steps after it wait for recovery as they do after an applied action; left undone, a run
that ends unresolved says `not resolved: … needs <task>` (core/verdict.py). A note without
`needs:` is a manual check (read the logs, look at a graph): ticking it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ditsops.core.model import Step
from ditsops.core.params import ParamValue
from ditsops.core.results import Status, StepResult
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import references, render_text


@dataclass(frozen=True)
class NoteSpec:
    text: str
    needs: str = ""  # the human task, when this note is a fix only a person can make


@register
class NoteKind(StepKind[NoteSpec]):
    key = "note"
    spec_type = NoteSpec
    fields = ("needs",)

    def parse(self, value: Any, reader: FieldReader) -> NoteSpec | None:
        if not isinstance(value, str) or not value.strip():
            reader.problem("note", "'note' must be the instruction text")
            return None
        needs = reader.get("needs", str, default="")
        return NoteSpec(value.strip(), " ".join(needs.split()))

    def references(self, spec: NoteSpec | None) -> set[str]:
        return references(spec.text) if spec else set()

    def describe(self, step: Step, params: dict[str, ParamValue]) -> str:
        # The note's own lines are the runbook's; a value (an alert label, --set) is one
        # line inside it: a newline in it shown as \n, so it cannot forge an instruction.
        flat = {k: v.replace("\r", "\\r").replace("\n", "\\n") if isinstance(v, str) else v for k, v in params.items()}
        return render_text(self.spec_of(step).text, flat)

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        answer = ctx.manual(step, self.describe(step, ctx.params))
        if answer is None:
            return StepResult(Status.PENDING, "manual step: not ticked off (nobody at a terminal to do it)")
        if answer:
            if self.spec_of(step).needs:
                ctx.changed()  # the engineer made a fix by hand: verify steps wait for it
            return StepResult(Status.DONE, "done")
        return StepResult(Status.SKIPPED, "skipped by the engineer")
