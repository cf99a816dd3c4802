"""Every question ditsops asks the engineer, in one place.

`ConsoleInteraction` implements the engine's `Interaction` (core/engine.py): it draws each
event with a renderer from render/runbook.py and reads the answers here, so the policy
of what counts as a yes (`y`/`yes`, or on production the target's name typed in full)
lives beside the questions and nowhere in render/. The in-place status line of a verify
that waits is state of the conversation, so it lives here too.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ditsops.render import runbook as draw
from ditsops.render.cells import escape, escape_line
from ditsops.render.output import print_json

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from ditsops.core.engine import RunOutcome
    from ditsops.core.model import Escalation, Runbook, Step
    from ditsops.core.results import Preview, StepResult

YES = ("y", "yes")
SKIP = ("s", "skip", "n", "no")
TRIES = 3  # a mistyped production name is asked again, this many times in all
DRAIN_TIMEOUT = 2.0  # how long a question waits for the walk's pipe reader (tee, cat, less)
READER_GRACE = 0.05  # then how long for the reader to pass on what it read


def _unread(file: Any) -> int | None:
    """Bytes written to `file`'s pipe that its reader has not read yet; None when `file` is
    not a pipe (a terminal or a file keeps the order of writes by itself)."""
    import fcntl
    import stat
    import struct
    import termios

    try:
        fd = file.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except (AttributeError, OSError, ValueError):
        return None


def settle(walk: Console, asking: Console) -> None:
    """Before a question on another stream than the walk: the walk (the preview the answer
    judges) written out and read by whoever reads the pipe (`| tee log`, `| cat`), so the
    question lands on the screen after it. Flushing alone only hands it to the pipe; the
    reader may print it after the question went straight to the terminal."""
    if walk is asking:
        return
    file = walk.file
    try:
        file.flush()
    except (OSError, ValueError):
        return
    if not _unread(file):
        return
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while (_unread(file) or 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(READER_GRACE)  # from the reader's read() to its write() on the terminal


def ask(console: Console, prompt: str) -> str | None:
    """One line typed by the engineer; None when input ended (Ctrl-D, a closed pipe)."""
    try:
        return console.input(prompt)
    except EOFError:
        return None


class ConsoleInteraction:
    """Engine events rendered for a person; prompts read from the terminal.

    The walk goes to `console`; the questions go to `ask` (the terminal, when stdout is a
    pipe to `tee`), so a log of the walk holds no prompts and the person still sees them."""

    def __init__(
        self,
        console: Console,
        *,
        ask: Console | None = None,
        full: bool = False,
        mode: str = "interactive",
        show_queries: bool = False,
    ) -> None:
        self.console = console
        self.asking = ask or console
        self.full = full
        self.mode = mode
        self.show_queries = show_queries  # named diagnostics with their SQL, not only their name
        self.params: dict[str, Any] = {}
        self._status: Status | None = None  # the in-place line of a verify that waits

    def run_started(self, runbook: Runbook, params: dict[str, Any], target: list[tuple[str, str]]) -> None:
        self.params = params
        draw.render_run_started(self.console, runbook, params, target, self.mode)

    def step_started(self, step: Step, number: int, total: int, shown: str) -> None:
        from ditsops.core import steps as step_kinds

        brief = None if self.show_queries or not shown else step_kinds.kind_of(step.kind).brief(step, self.params)
        draw.render_step_started(self.console, step, number, total, shown, brief=brief)

    def step_finished(self, step: Step, result: StepResult) -> None:
        self._stop_status()
        draw.render_step_result(self.console, result, full=self.full)

    def show_preview(self, step: Step, preview: Preview) -> None:
        draw.render_preview(self.console, preview, full=self.full)

    def _ask(self, prompt: str) -> str | None:
        settle(self.console, self.asking)  # the question after the walk, whatever the streams
        return ask(self.asking, prompt)

    def confirm(self, step: Step, preview: Preview, *, production: bool) -> bool:
        if production:
            return self._confirm_production(preview.target)
        answer = self._ask(f"{escape_line(step.title)}? [title]\\[y/N][/] ")
        return answer is not None and answer.strip().lower() in YES

    def _confirm_production(self, target: str) -> bool:
        """On production a reflexive `y` is not enough: the target's name, typed whole. A
        mistyped name (a habitual `y` included) is asked again, TRIES times in all; an empty
        answer, n or skip declines at once."""
        prompt = f"[danger]Production.[/] Type [title]{escape_line(target)}[/] to confirm (empty or n skips): "
        for attempt in range(1, TRIES + 1):
            answer = self._ask(prompt)
            if answer is None:
                return False
            typed = answer.strip()
            if typed == target:
                return True
            if not typed or typed.lower() in SKIP:
                return False
            left = TRIES - attempt
            if left:
                self.asking.print(
                    f"[warning]{escape(typed)!r} is not {escape(target)!r}; "
                    f"{left} more {'try' if left == 1 else 'tries'}.[/]",
                    markup=True,
                )
        return False

    def manual(self, step: Step, text: str) -> bool | None:
        # The instruction itself was shown with the step (render_step_started): ask only.
        answer = self._ask("Done? [title]\\[y]es / \\[s]kip[/] ")
        if answer is None:
            return None
        return answer.strip().lower() not in SKIP

    def progress(self, step: Step, message: str, *, live: bool = False) -> None:
        """A long step's progress. Live messages (a verify's latest value and time left)
        update one line in place on a terminal; elsewhere every message is its own line,
        so a log shows each re-check."""
        if live and self.console.is_terminal:
            if self._status is None:
                self._status = self.console.status(escape(message), spinner="dots")
                self._status.start()
            else:
                self._status.update(escape(message))
            return
        self._stop_status()
        draw.render_progress(self.console, message)

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def escalate(self, reminder: Escalation, elapsed: float) -> None:
        draw.render_escalation(self.console, reminder, elapsed)

    def state_moved(self, step: Step, what: str) -> None:
        self._stop_status()
        draw.render_state_moved(self.console, what)

    def lease_held(self, step: Step, message: str) -> bool:
        self._stop_status()
        draw.render_lease_held(self.console, message)
        answer = self._ask("Go on anyway? [title]\\[y/N][/] ")
        return answer is not None and answer.strip().lower() in YES

    def run_interrupted(self) -> None:
        self._stop_status()

    def run_finished(self, outcome: RunOutcome) -> None:
        self._stop_status()
        draw.render_run_finished(self.console, outcome)


class JsonInteraction(ConsoleInteraction):
    """Progress and prompts on stderr; one JSON document of the outcome on stdout."""

    def __init__(self, err: Console, out: Console, **kwargs: Any) -> None:
        super().__init__(err, **kwargs)
        self.out = out

    def run_finished(self, outcome: RunOutcome) -> None:
        super().run_finished(outcome)
        print_json(self.out, draw.outcome_json(outcome))


def choose_alert(console: Console, views) -> int:
    """Ask which of several firing alerts to work on; returns its index."""
    from ditsops.render.alerts import render_alert_choices, render_choice_refused

    render_alert_choices(console, views)
    while True:
        answer = ask(console, f"Which one? [1-{len(views)}] ")
        if answer is None:
            raise KeyboardInterrupt from None  # no answer will come: stop as Ctrl-C would
        if answer.strip().isdigit() and 1 <= int(answer) <= len(views):
            return int(answer) - 1
        render_choice_refused(console)
