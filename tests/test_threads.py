"""Ctrl-C always reaches the main thread: helper threads block SIGINT and SIGTERM, so the
kernel cannot hand the engineer's Ctrl-C to a thread that would leave the main thread
asleep in a read (the answer to a question)."""

from __future__ import annotations

import signal
import threading

from ditsops.base.threads import start_background


def test_a_helper_thread_never_takes_ctrl_c_and_the_callers_mask_is_unchanged():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen: list[set[int]] = []
    done = threading.Event()

    def work(tag: str) -> None:
        seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        done.set()

    thread = start_background(work, args=("x",), name="probe")
    assert done.wait(10)
    thread.join(10)
    assert thread.daemon and thread.name == "probe"
    assert {signal.SIGINT, signal.SIGTERM} <= seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before  # the caller still takes Ctrl-C
