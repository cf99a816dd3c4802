"""Loopback HTTP servers for attacks: one that records what reaches it, one that drips.

CapturingServer answers like Prometheus, Alertmanager and a Dits server (enough for the
commands under test) and records every request's headers, so a test can assert that no
Authorization header ever reached a host. SlowDripServer sends its status line and
headers at once, then one byte a second: every single read succeeds, only a total
deadline can stop a client. Both bind 127.0.0.1 only; the drip is bounded.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROM_EMPTY = {"status": "success", "data": {"resultType": "vector", "result": []}}
ANSWERS = {
    "/api/v1/query": PROM_EMPTY,
    "/api/v1/query_range": {"status": "success", "data": {"resultType": "matrix", "result": []}},
    "/api/v1/alerts": {"status": "success", "data": {"alerts": []}},
    "/api/v1/rules": {"status": "success", "data": {"groups": []}},
    "/api/v2/alerts": [],
    "/api/v2/silences": [],
    "/health": {"status": "healthy", "version": "1.4.2", "uptime_seconds": 60, "checks": []},
    "/health/live": {"status": "ok"},
    "/health/ready": {"status": "ok"},
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)


@dataclass
class CapturingServer:
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location (302)
    answers: dict[str, object] = field(default_factory=dict)  # path -> JSON body, over ANSWERS
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                capture.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
                if path in capture.redirects:
                    self.send_response(302)
                    self.send_header("Location", capture.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({**ANSWERS, **capture.answers}.get(path, {"status": "healthy"})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args) -> None:
                pass

        # Bound here, on a port the kernel picks, and kept: no window for another process to take it.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authorizations(self) -> list[str]:
        return [s.authorization for s in self.seen if s.authorization]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SlowDripServer:
    """Headers at once, then one byte a second for at most `seconds` (a bounded drip)."""

    def __init__(self, seconds: float = 40.0) -> None:
        self.seconds = seconds
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)  # the request (small enough for one read here)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                ends = time.monotonic() + self.seconds
                while time.monotonic() < ends and not self._stop.is_set():
                    conn.sendall(b" ")
                    self._stop.wait(1.0)
            except OSError:
                return  # the client gave up: that is what the test wants

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
