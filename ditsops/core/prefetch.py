"""Reads started ahead of their turn, so a slow backend costs its own time once."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import TypeVar

from ditsops.base.threads import start_background
from ditsops.core import steps as step_kinds
from ditsops.core.model import Step
from ditsops.core.results import StepResult

T = TypeVar("T")


def _in_background(work: Callable[[], T]) -> Future[T]:
    """Run work on a daemon thread: an engineer's Ctrl-C must not wait for a slow query."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:  # noqa: BLE001 - handed to whoever takes the result
            future.set_exception(error)

    start_background(run, name="ditsops-prefetch")
    return future


class Prefetch:
    """Upcoming pure reads start in the background while earlier steps run and render, so a
    slow backend costs its own time once instead of delaying every step after it. Results
    are still shown in runbook order. Prefetching never crosses a step with a condition,
    an action, a note or a verify: what comes after those may depend on them.

    Reads of one target start in runbook order. An HTTP API (Prometheus, Alertmanager, the
    Dits server, Kubernetes) answers several requests at once, so up to PER_TARGET of its
    reads are in flight together; PostgreSQL gets one connection per target (in a
    connection-exhaustion incident a slot is scarce), on which statements run one by one."""

    WINDOW = 4
    PER_TARGET = 4
    ONE_AT_A_TIME = frozenset({"database"})  # one connection: its statements queue anyway

    def __init__(self, steps: tuple[Step, ...], measure: Callable[[Step], tuple[StepResult, float]]) -> None:
        self.steps, self.measure = steps, measure
        self.futures: dict[int, Future[tuple[StepResult, float]]] = {}
        # per target, its latest reads, at most as many as may be in flight at once
        self.recent_by_target: dict[str, deque[Future[tuple[StepResult, float]]]] = {}

    def start_from(self, index: int) -> None:
        for ahead in range(index, min(index + self.WINDOW + 1, len(self.steps))):
            step = self.steps[ahead]
            kind = step_kinds.kind_of(step.kind)
            if step.when or not kind.prefetch:
                return
            if ahead not in self.futures:
                target = _target_of(step, kind.key, kind.target)
                limit = 1 if target in self.ONE_AT_A_TIME else self.PER_TARGET
                recent = self.recent_by_target.setdefault(target, deque(maxlen=limit))
                # The read `limit` places earlier on this target must end first: at most
                # `limit` in flight, and each starts no earlier than the ones before it.
                before = recent[0] if len(recent) == limit else None
                self.futures[ahead] = _in_background(partial(self._after, before, step))
                recent.append(self.futures[ahead])

    def _after(self, before: Future[tuple[StepResult, float]] | None, step: Step) -> tuple[StepResult, float]:
        if before is not None:
            before.exception()  # wait for it; its outcome is its own step's business
        return self.measure(step)

    def take(self, index: int) -> Future[tuple[StepResult, float]] | None:
        return self.futures.pop(index, None)


def _target_of(step: Step, kind_key: str, kind_target: str) -> str:
    """The server a read goes to: its kind's, or for an http step the one it names
    (`prometheus:/api/v1/status/tsdb` shares Prometheus' limit with the PromQL steps)."""
    named = getattr(step.spec, "target", None) if kind_key == "http" else None
    return named if isinstance(named, str) and named else kind_target
