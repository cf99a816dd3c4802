"""The q key of `dash --watch`: stdin in cbreak mode while watching, restored on the way out."""

from __future__ import annotations

import select
import time
from types import TracebackType


class Keys:
    """Waits for the refresh interval, returning early (True) when q is pressed on `fd`."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._saved: list[object] | None = None

    def __enter__(self) -> Keys:
        if self.fd is not None:
            import termios
            import tty

            try:
                self._saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)
            except termios.error:
                self.fd = None  # not a terminal after all: only Ctrl-C ends the watch
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def quit_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.fd is None:
                time.sleep(left)
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                import os

                key = os.read(self.fd, 1)
                if key in (b"q", b"Q") or not key:  # q, or stdin closed
                    return True
