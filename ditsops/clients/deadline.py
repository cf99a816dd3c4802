"""A total deadline per network call: connect, headers and every read of the body.

httpx, requests/urllib3 and the Kubernetes client all take timeouts per socket
operation, so a server that sends one byte a second keeps each read alive and a call
alive for ever. `within` runs the call in a daemon thread and stops waiting at the
deadline: the caller gets TargetUnreachable (exit 4) on time whatever the server does,
and the abandoned call dies with its socket timeout, when its client is closed, or with
the process. Daemon threads never hold the interpreter open at exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from ditsops.base.errors import TargetUnreachable
from ditsops.base.threads import start_background

T = TypeVar("T")


class DeadlineExceeded(TargetUnreachable):
    """A call did not finish within its total deadline."""


def within(
    seconds: float, call: Callable[[], T], message: Callable[[], str], cancel: Callable[[], None] | None = None
) -> T:
    """call() if it finishes within `seconds`; else DeadlineExceeded(message()).

    `cancel` runs at the deadline to end the abandoned call now (shut its socket), so that
    a caller that tries again (`--watch`) does not pile up one blocked thread per try."""
    value: list[T] = []  # filled by the worker thread: the call's result, or
    failure: list[BaseException] = []  # what it raised
    done = threading.Event()

    def work() -> None:
        try:
            value.append(call())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(error)
        finally:
            done.set()

    start_background(work, name="ditsops-network-call")
    if not done.wait(seconds):
        if cancel is not None:
            try:
                cancel()
            except Exception:  # noqa: BLE001 - best effort: the thread still ends at its socket timeout
                pass
        raise DeadlineExceeded(message())
    if failure:
        raise failure[0]
    return value[0]


def describe_deadline(service: str, where: str, seconds: float) -> str:
    return f"{service} at {where} did not answer within {seconds:g}s (total deadline, DITSOPS_HTTP_TIMEOUT)"
