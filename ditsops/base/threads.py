"""Helper threads that never take the engineer's Ctrl-C.

The kernel hands a Ctrl-C (SIGINT, or a SIGTERM) to any thread of the process that does not
block it. Python runs its handler in the main thread only, and a main thread blocked in a
read (the answer to a question, a log follow) is not woken when another thread took the
signal: the Ctrl-C is lost until the next key. A thread started here blocks both signals
for its whole life, so they always land in the main thread."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

_HELD = {signal.SIGINT, signal.SIGTERM}


def start_background(target: Callable[..., object], *, name: str, args: tuple[Any, ...] = ()) -> threading.Thread:
    """Start `target(*args)` on a daemon thread that blocks SIGINT and SIGTERM.

    A new thread inherits the signal mask of the thread that starts it: the mask is set
    here around `start()` and put back at once, so the caller's own mask is unchanged."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return thread
