"""`note:` — a manual instruction the engineer carries out and ticks off.

- id: check-leaks
  title: Look for connection leaks
  note: Search the server logs for "pool timed out" since the alert started.
"""

from __future__ import annotations

from typing import Any

from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import references, render_text


@register
class NoteKind(StepKind):
    key = "note"

    def parse(self, value: Any, reader: FieldReader) -> str | None:
        if not isinstance(value, str) or not value.strip():
            reader.problem("note", "'note' must be the instruction text")
            return None
        return value.strip()

    def references(self, spec: str | None) -> set[str]:
        return references(spec or "")

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        return render_text(step.spec, params)

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        answer = ctx.manual(step, self.describe(step, ctx.params)) if ctx.manual else None
        if answer is None:
            return StepResult(Status.PENDING, "manual step: not ticked off (nobody at a terminal to do it)")
        if answer:
            return StepResult(Status.DONE, "done")
        return StepResult(Status.SKIPPED, "skipped by the engineer")
