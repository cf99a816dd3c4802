"""Running the real `ditsops` command in a process of its own, as an engineer would.

`run_cli` has the shape of `subprocess.run([python, -m, ditsops, ...])` and the same
result; by default the process is forked from the suite's fork server (tests/forkserver.py:
the heavy third-party libraries already imported, everything else fresh), which saves
about half a second of imports per command. `DITSOPS_TEST_FORKSERVER=0` starts every
command with a plain `python -m ditsops` instead.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_SERVER_SCRIPT = Path(__file__).with_name("forkserver.py")
_server_lock = threading.Lock()
_server: tuple[subprocess.Popen[bytes], str] | None = None


def run_cli(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    if os.environ.get("DITSOPS_TEST_FORKSERVER", "1") == "0":
        return subprocess.run(
            [sys.executable, "-m", "ditsops", *args],
            capture_output=True,
            text=True,
            env=environment,
            input=input,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    return _forked(list(args), environment, input, timeout)


def _server_path() -> str:
    global _server
    with _server_lock:
        if _server is None or _server[0].poll() is not None:
            directory = tempfile.mkdtemp(prefix="ditsops-forkserver-")
            path = os.path.join(directory, "socket")
            process = subprocess.Popen(
                [sys.executable, str(_SERVER_SCRIPT), path],
                stdin=subprocess.PIPE,  # closed when this process ends: the server then exits
                stdout=subprocess.PIPE,
                cwd=directory,
            )
            assert process.stdout is not None
            if process.stdout.readline().strip() != b"ready":
                raise RuntimeError("the test fork server did not start")
            _server = (process, path)
        return _server[1]


def _forked(
    argv: list[str], environment: dict[str, str], input: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    if input is None:
        stdin_read = os.open(os.devnull, os.O_RDONLY)
        stdin_write = None
    else:
        stdin_read, stdin_write = os.pipe()
    output: dict[int, bytes] = {}

    def drain(fd: int) -> None:
        chunks = []
        with os.fdopen(fd, "rb") as stream:
            while chunk := stream.read(65536):
                chunks.append(chunk)
        output[fd] = b"".join(chunks)

    readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in (stdout_read, stderr_read)]
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = None
    try:
        connection.connect(_server_path())
        header = json.dumps({"argv": argv, "env": environment, "cwd": os.getcwd()}).encode()
        socket.send_fds(connection, [header], [stdin_read, stdout_write, stderr_write])
        for fd in (stdin_read, stdout_write, stderr_write):
            os.close(fd)
        for reader in readers:
            reader.start()
        if stdin_write is not None:
            threading.Thread(target=_feed, args=(stdin_write, (input or "").encode()), daemon=True).start()
        connection.settimeout(timeout)
        pid = int(connection.recv(64).decode().split()[1])
        try:
            answer = connection.recv(64).decode()
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired([sys.executable, "-m", "ditsops", *argv], timeout) from None
        code = int(answer.split()[1])
    finally:
        connection.close()
    for reader in readers:
        reader.join()
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "ditsops", *argv], code, _as_text(output[stdout_read]), _as_text(output[stderr_read])
    )


def _as_text(data: bytes) -> str:
    """Decoded as subprocess.run(text=True) does: locale encoding, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data)).read()


def _feed(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
    except BrokenPipeError:
        pass


def forget_server() -> None:
    """Stop this process' fork server (the next run_cli starts another)."""
    global _server
    with _server_lock:
        if _server is not None:
            process, path = _server
            process.kill()
            process.wait()
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            _server = None
