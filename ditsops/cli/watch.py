"""`--watch [INTERVAL]`: one refresh loop for every live view (db activity, db blocking,
alerts, health, k8s status, dash). The optional interval is read by cli/watcharg.py.

On a terminal the view is redrawn in place with rich's Live, under a header like
watch(1)'s; `q` (read in cbreak mode from the terminal, restored on the way out) or Ctrl-C
leaves with exit 0, the last view left on the screen. When stdout is not a terminal
(`--watch | tee watch.log`) each refresh is printed whole after a timestamped separator,
as `kubectl get -w` keeps printing; with `-o json`, one JSON document per refresh.

A backend that fails during a refresh (unreachable, a rejected query) is shown in the view
and watching goes on: what an engineer watches during an incident is often the thing that
is failing. A wrong option or configuration still ends the command (exit 2).
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable
from datetime import datetime
from io import StringIO
from types import TracebackType
from typing import Annotated, Generic, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ditsops.base.durations import parse_duration
from ditsops.base.errors import ExitCode, TargetError, TargetUnreachable, UsageError
from ditsops.cli.common import AppState

DEFAULT_INTERVAL = 2.0  # seconds, watch(1)'s default
MIN_INTERVAL = 0.1  # watch(1)'s floor too
MAX_INTERVAL = 86400.0  # a day: beyond it a "live" view is a typo

WatchOption = Annotated[
    bool,
    typer.Option(
        "--watch",
        "-w",
        help="Keep the view on screen, refreshed every INTERVAL (--watch 5s; default 2s, dash 10s); "
        "q or Ctrl-C leaves (exit 0). Piped: a timestamped snapshot per interval.",
    ),
]
IntervalOption = Annotated[
    str | None,
    typer.Option(
        "--interval",
        metavar="INTERVAL",
        help="Time between refreshes: 2s (default), 500ms, 1m, or seconds (5); implies --watch.",
        show_default=False,
    ),
]

# What a refresh may fail with and still be watched again: the backend's fault, not the engineer's.
BACKEND_ERRORS = (TargetUnreachable, TargetError)

Draw = Callable[[Console], None]
C = TypeVar("C")


def watch_interval(watch: bool, interval: str | None, *, default: float = DEFAULT_INTERVAL) -> float | None:
    """Seconds between refreshes, or None when the command runs once."""
    if interval is None:
        return default if watch else None
    text = interval.strip()
    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text).total_seconds()
    except ValueError as error:
        raise UsageError(f"--interval: {error}") from None
    if seconds < MIN_INTERVAL:
        raise UsageError(f"--interval: {interval!r} is too short (at least {MIN_INTERVAL:g}s)")
    if seconds > MAX_INTERVAL:
        raise UsageError(f"--interval: {interval!r} is too long (at most {MAX_INTERVAL / 3600:g}h)")
    return seconds


def run_watch(state: AppState, title: str, interval: float, draw: Draw, *, json_output: bool = False) -> NoReturn:
    """Call `draw(console)` (fetch, then render onto the console) every `interval` seconds
    until q or Ctrl-C; exits 0. `title` is the command as the header names it (never argv:
    it may hold a DSN)."""
    out = state.consoles.out
    keys = Keys(sys.stdin.fileno() if state.terminal.stdin_isatty else None)
    try:
        with keys:
            if _is_tty(out) and not json_output:
                _live(out, title, interval, draw, keys)
            else:
                _stream(state, title, interval, draw, keys, separators=not json_output)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `--watch | head`: the reader has seen enough
        _silence_stdout()
    except SystemExit:
        # rich meets a broken pipe by pointing stdout at /dev/null, going quiet and exiting
        # 1; for a watch, a reader that has seen enough is a normal end like q.
        if not out.quiet:
            raise
    raise typer.Exit(ExitCode.OK)


def _live(out: Console, title: str, interval: float, draw: Draw, keys: Keys) -> None:
    from rich.live import Live

    from ditsops.render.watch import watch_frame

    body: Text | None = None
    shown_at: datetime | None = None
    with Live(console=out, auto_refresh=False, transient=False) as live:
        while True:
            started = time.monotonic()
            at = datetime.now().astimezone()
            error = None
            try:
                body, shown_at = _offscreen(out, draw), at
            except BACKEND_ERRORS as failure:
                error = failure.message
            live.update(watch_frame(title, interval, at, body, error, shown_at), refresh=True)
            if keys.quit_before(started + interval):
                return


def _stream(state: AppState, title: str, interval: float, draw: Draw, keys: Keys, *, separators: bool) -> None:
    from ditsops.render.watch import render_snapshot_header, render_watch_error

    out, err = state.consoles.out, state.consoles.err
    while True:
        started = time.monotonic()
        at = datetime.now().astimezone()
        if separators:
            render_snapshot_header(out, title, at)
        try:
            draw(out)
        except BACKEND_ERRORS as failure:
            render_watch_error(err, title, at, failure.message)
        out.file.flush()
        if keys.quit_before(started + interval):
            return


def _offscreen(like: Console, draw: Draw) -> Text:
    """What `draw` prints, drawn on a console like the terminal's (width, colours, theme)
    but into a buffer: Live shows it as one renderable. (console.capture() would not do:
    Live's render hook would append the live display to what is captured.)"""
    from ditsops.render.console import THEME

    buffer = StringIO()
    console = Console(
        file=buffer,
        width=like.width,
        height=like.height,
        color_system=like.color_system,  # type: ignore[arg-type]  # the same system's name, or None
        force_terminal=True,  # renderers fit tables to a terminal's width, as on the real one
        no_color=like.no_color,
        theme=THEME,
        highlight=False,
        soft_wrap=False,
    )
    draw(console)
    return Text.from_ansi(buffer.getvalue().rstrip("\n"))


def _is_tty(console: Console) -> bool:
    try:
        return console.file.isatty()
    except (AttributeError, ValueError):
        return False


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class Keys:
    """The engineer's key presses on the terminal, one at a time (cbreak: no Enter needed,
    no echo; Ctrl-C still interrupts); the terminal's mode is restored on the way out."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._saved: list[object] | None = None

    def __enter__(self) -> Keys:
        if self.fd is not None:
            import termios
            import tty

            try:
                if os.tcgetpgrp(self.fd) != os.getpgrp():
                    # started in the background (`... &`): setting the terminal's mode, or
                    # reading it, would stop the process (SIGTTOU, SIGTTIN); no keys then
                    self.fd = None
                    return self
                self._saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)
            except (termios.error, OSError):
                self.fd = None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def quit_before(self, deadline: float) -> bool:
        """Wait until `deadline` (time.monotonic()); True as soon as q is pressed."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.fd is None:
                time.sleep(left)
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                pressed = os.read(self.fd, 64)
                if not pressed:  # the terminal went away: wait out the interval
                    self.fd = None
                elif b"q" in pressed.lower():
                    return True

    def wait_for_quit(self) -> bool:
        """Block until q is pressed: True. False at once without a terminal, and once the
        terminal goes away (`k8s logs -f` calls it on a thread of its own)."""
        while self.fd is not None:
            if self.quit_before(time.monotonic() + 3600):
                return True
        return False


class KeptClient(Generic[C]):
    """A client kept open across refreshes (one PostgreSQL session, as pg_activity keeps:
    during an exhaustion incident a new connection per refresh may not get a slot), opened
    again on the next refresh once it is broken."""

    def __init__(self, connect: Callable[[], C], broken: Callable[[C], bool], close: Callable[[C], None]) -> None:
        self._connect, self._broken, self._close = connect, broken, close
        self._client: C | None = None

    def get(self) -> C:
        if self._client is not None and self._broken(self._client):
            self.close()
        if self._client is None:
            self._client = self._connect()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                self._close(client)
            except Exception:  # noqa: BLE001 - closing a broken session must not end the watch
                pass
