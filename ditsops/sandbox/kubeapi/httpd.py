"""HTTP/1.1 plumbing: a threading server, bearer-token check, chunked streaming.

Keep-alive matters: kubectl and urllib3 reuse connections, so every plain response has
a Content-Length, and streams (watch, ``logs -f``) use chunked transfer encoding.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .api import KubeAPI, Request, Response
from .errors import unauthorized

log = logging.getLogger(__name__)
_OPEN_PATHS = ("/healthz", "/livez", "/readyz", "/version")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: KubeAPI, token: str | None) -> None:
        self.api, self.token = api, token
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    # Track open connections so close_connections() can end keep-alive clients on stop;
    # otherwise a stopped server would go on answering on connections already open.
    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[no-untyped-def]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            open_now = list(self._connections)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "ditsops-kubeapi"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)

    def _alive(self) -> bool:
        """False once the client closed its end (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return True
            return self.connection.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        headers = {k: v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        if self.server.token and path not in _OPEN_PATHS:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {self.server.token}":
                err = unauthorized()
                return self._send(Response.json(401, err.status()))
        request = Request.build(self.command, self.path, headers, body, self._alive)
        try:
            response = self.server.api.handle(request)
        except Exception:  # a bug must answer 500 like the apiserver, not drop the connection
            log.exception("request %s %s failed", self.command, self.path)
            response = Response.json(
                500,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "internal error",
                    "reason": "InternalError",
                    "code": 500,
                },
            )
        self._send(response)

    def _read_chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, response: Response) -> None:
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.wfile.flush()
            for chunk in response.stream:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close:
                close()


def make_server(host: str, port: int, api: KubeAPI, token: str | None) -> _Server:
    return _Server((host, port), api, token)
