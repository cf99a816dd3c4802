"""A runbook walk on one screen: the default of `runbook` and `runbook resume`.

A step says nothing until there is something to say. A read that is fine, or a step
skipped, ends as one line; a read that is failing adds its evidence below that line. A step
that asks (a preview and its question, a note to tick off) or waits (a verify) opens with
its title and why, as in the verbose walk, so the question stands under the evidence that
justifies it. `--verbose` walks as ConsoleInteraction does: every step whole."""

from __future__ import annotations

from typing import Any

from ditsops.cli.prompts import ConsoleInteraction
from ditsops.core.model import Runbook, Step
from ditsops.core.results import Preview, StepResult
from ditsops.render import runbook as draw
from ditsops.render import walkline

SHOWN_WHEN_OPENED = frozenset({"note", "verify"})  # their text is the instruction, or what is awaited


class CompactInteraction(ConsoleInteraction):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: tuple[Step, int, int, str] | None = None  # started, nothing shown yet
        self._number = (0, 0)

    def run_started(self, runbook: Runbook, params: dict[str, Any], target: list[tuple[str, str]]) -> None:
        self.params = params
        walkline.render_compact_header(self.console, runbook, params, target, self.mode)

    def step_started(self, step: Step, number: int, total: int, shown: str) -> None:
        self._waiting, self._number = (step, number, total, shown), (number, total)
        if step.kind == "note" and shown:  # its instruction is what it is for, asked or not
            self._open()

    def _open(self) -> None:
        """The step's title and why, once, before the first thing it shows or asks."""
        if self._waiting is None:
            return
        step, number, total, shown = self._waiting
        self._waiting = None
        draw.render_step_started(self.console, step, number, total, shown if step.kind in SHOWN_WHEN_OPENED else "")

    def show_preview(self, step: Step, preview: Preview) -> None:
        self._open()
        walkline.render_compact_preview(self.console, preview)

    def manual(self, step: Step, text: str) -> bool | None:
        self._open()
        return super().manual(step, text)

    def progress(self, step: Step, message: str, *, live: bool = False) -> None:
        self._open()
        super().progress(step, message, live=live)

    def state_moved(self, step: Step, what: str) -> None:
        self._open()
        super().state_moved(step, what)

    def lease_held(self, step: Step, message: str) -> bool:
        self._open()
        return super().lease_held(step, message)

    def step_finished(self, step: Step, result: StepResult) -> None:
        self._stop_status()
        if self._waiting is None:  # opened: it showed or asked something; its result below it
            draw.render_step_result(self.console, walkline.folded(result), full=self.full)
            return
        self._waiting = None
        number, total = self._number
        walkline.render_step_line(self.console, number, total, step, result)
        walkline.render_compact_details(self.console, result)
