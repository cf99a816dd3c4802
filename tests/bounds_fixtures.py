"""Hostile backends for the bounds tests: a loopback HTTP server whose answers a test
scripts (wrong shapes, endless paging, a 2 GB body generated as it is sent), a kubeconfig
pointing at it, and a way to run ditsops measuring the child's own peak memory.

Nothing here writes a large file: big bodies are generated lazily, chunk by chunk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# (status, headers, body chunks) for one request: path (with its query) -> answer
Answer = tuple[int, dict[str, str], Iterable[bytes]]
Script = Callable[[str], Answer]

MB = 1 << 20
GB = 1 << 30


def json_answer(document: object, status: int = 200) -> Answer:
    body = json.dumps(document).encode()
    return status, {"Content-Type": "application/json", "Content-Length": str(len(body))}, [body]


def endless_json(total: int = 2 * GB, *, declare: bool = False) -> Answer:
    """A JSON document `total` bytes long, made as it is sent (never held in memory):
    `{"items": [0,0,0,...`. Chunked unless `declare` sends its Content-Length first."""

    def chunks() -> Iterator[bytes]:
        yield b'{"items": ['
        block = b"0," * (MB // 2)
        sent = 11
        while sent < total:
            yield block
            sent += len(block)

    headers = {"Content-Type": "application/json"}
    if declare:
        headers["Content-Length"] = str(total)
    return 200, headers, chunks()


def dense_json(total: int, item: bytes = b"{}") -> Answer:
    """A JSON document just under `total` bytes that parses into millions of small objects
    (`{"items": [{},{},...]}`: 3 bytes each, 64 or more once parsed), made as it is sent."""

    def chunks() -> Iterator[bytes]:
        yield b'{"items": ['
        block = (item + b",") * (MB // (len(item) + 1))
        sent = 11
        while sent + len(block) < total - 16:
            yield block
            sent += len(block)
        yield item + b"]}"

    return 200, {"Content-Type": "application/json"}, chunks()


@dataclass
class ScriptedServer:
    """Answers every GET with script(path); counts the requests and what was sent."""

    script: Script
    requests: list[str] = field(default_factory=list)
    sent: int = 0  # body bytes the server managed to write (a refused body stops early)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                owner.requests.append(self.path)
                status, headers, body = owner.script(self.path)
                self.send_response(status)
                chunked = "Content-Length" not in headers
                for name, value in headers.items():
                    self.send_header(name, value)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in body:
                        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                        self.wfile.write(frame)
                        owner.sent += len(chunk)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    self.close_connection = True  # the client hung up: what a refusal looks like

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def kubeconfig_for(url: str, directory: Path, namespace: str = "dits") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "hostile", "cluster": {"server": url}}],
        "users": [{"name": "hostile", "user": {}}],
        "contexts": [{"name": "hostile", "context": {"cluster": "hostile", "user": "hostile", "namespace": namespace}}],
        "current-context": "hostile",
    }
    path = directory / "kubeconfig-hostile"
    path.write_text(json.dumps(config))
    return path


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes: the child's own peak resident memory (wait4's rusage, Linux kB)


def run_measured(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Measured:
    """`ditsops ARGS` in a child whose peak RSS is its own (os.wait4 on its pid, not the
    RUSAGE_CHILDREN high-water mark of every child this test process ever had). A child
    still running at `timeout` is killed: a hang ends the test, it never holds it."""
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    child = subprocess.Popen(
        [sys.executable, "-m", "ditsops", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    outputs: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda n=name, s=stream: outputs.__setitem__(n, s.read()), daemon=True)
        for name, stream in (("out", child.stdout), ("err", child.stderr))
    ]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, child.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        killer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
    for reader in readers:
        reader.join()
    return Measured(
        child.returncode,
        outputs.get("out", b"").decode("utf-8", "replace"),
        outputs.get("err", b"").decode("utf-8", "replace"),
        usage.ru_maxrss * 1024,
    )
