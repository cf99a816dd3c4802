"""Shared test helpers: binaries that must exist (skip locally, fail in CI), and waiting on a condition."""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str, install_hint: str, *, search: list[str] | None = None) -> Path:
    """Path of a service binary; skips locally when absent (saying how to install it), fails in CI."""
    for directory in search or []:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} is not installed: {install_hint}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def wait_until(
    probe: Callable[[], T],
    timeout: float = 10.0,
    what: str = "condition",
    *,
    until: Callable[[T], object] = bool,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `probe()` until `until(value)` holds (by default: the value is truthy) and return
    that value; fail the test after `timeout` seconds with the last value in the message.

    The suite's one polling helper: services settle asynchronously, so tests wait on a
    condition, never on a fixed sleep. `ignore`: exceptions that count as "not yet" (a
    service restarting); the last one is reported when time runs out. The probe runs at
    least once, and once more at the deadline, so a slow machine never fails a test whose
    condition held when it was finally looked at."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        past_deadline = time.monotonic() >= deadline
        try:
            value = probe()
        except ignore as error:
            last = error
        else:
            if until(value):
                return value
            last = value
        if past_deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


# How a start that lost its port reads: the errno of a bind in this process, or the words a
# service's log (quoted in the start error) uses for it.
_PORT_TAKEN = ("address already in use", "could not listen")


def retry_if_port_taken(start: Callable[[], T], attempts: int = 3) -> T:
    """`start()` again when it failed because its port was taken meanwhile.

    free_port() (ditsops/sandbox/ports.py) names a port free at that instant; another test
    worker may bind it before the service does. Every start here chooses its port afresh,
    so a second attempt gets another one. Any other failure is raised at once."""
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except Exception as error:  # noqa: BLE001 - re-raised unless it is a lost port
            taken = getattr(error, "errno", None) == errno.EADDRINUSE or any(
                words in str(error).lower() for words in _PORT_TAKEN
            )
            if not taken or attempt == attempts:
                raise
    raise AssertionError("unreachable")
