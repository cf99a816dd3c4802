"""A fork server for the suite's `ditsops` subprocesses (tests/cli.py: run_cli).

Most CLI tests start `python -m ditsops ...` and spend most of that second importing the
same third-party libraries (kubernetes, psycopg, httpx, requests, prometheus-api-client,
PyYAML) before ditsops does anything. This server imports them once and forks a child per
command: the child is still a process of its own, with the caller's argv, environment,
working directory and stdin/stdout/stderr (passed over a Unix socket), run as
`python -m ditsops` (runpy, so click names the program as it does then), and its exit
status is the caller's returncode. What it does not re-run is those libraries' imports,
so nothing here preloads a library that reads the environment when imported: typer, click
and rich (colour, width and terminal detection read NO_COLOR, FORCE_COLOR, COLUMNS, ...)
and ditsops itself are imported fresh by each child, under the caller's environment.

Protocol, one SOCK_SEQPACKET connection per command: the client sends one JSON message
(argv, env, cwd) with its three fds attached; the server answers `pid <n>` once forked and
`exit <code>` when the child ended (a negative code for a signal, as subprocess reports it).

Run as `python tests/forkserver.py SOCKET_PATH` by the client, with a pipe as stdin: when
the client's process ends, the pipe closes and the server exits.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys

PRELOADED = ("kubernetes", "psycopg", "httpx", "requests", "prometheus_api_client", "yaml", "urllib3", "pexpect")
HEADER_LIMIT = 1 << 20


def _preload() -> None:
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    message, fds, _, _ = socket.recv_fds(connection, HEADER_LIMIT, 3)
    return json.loads(message), fds


def _run_child(request: dict, fds: list[int]) -> None:
    """In the forked child: become `python -m ditsops ARGS` and never return."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process' own streams
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = ["ditsops", *request["argv"]]
        sys.path[0] = request["cwd"]  # as `python -m` puts it (this script's folder was there)
        import runpy

        try:
            runpy.run_module("ditsops", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            if not isinstance(done.code, int | None):
                print(done.code, file=sys.stderr)
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
    finally:
        os._exit(code)


def serve(path: str) -> None:
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    waiting: dict[int, socket.socket] = {}  # child pid -> its caller's connection
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select(timeout=0.02):
            if key.fileobj is sys.stdin:
                if not os.read(0, 1024):
                    return  # the client's process is gone
                continue
            connection, _ = listener.accept()
            request, fds = _receive(connection)
            pid = os.fork()
            if pid == 0:
                selector.close()
                listener.close()
                for other in waiting.values():
                    other.close()
                connection.close()
                _run_child(request, fds)
            for fd in fds:
                os.close(fd)
            connection.send(f"pid {pid}".encode())
            waiting[pid] = connection
        while waiting:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = waiting.pop(pid, None)
            if connection is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            try:
                connection.send(f"exit {code}".encode())
            except OSError:
                pass  # the caller gave up on it (timeout)
            connection.close()


if __name__ == "__main__":
    serve(sys.argv[1])
