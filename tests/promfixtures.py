"""A real Prometheus (and Alertmanager) on loopback scraping a small test exporter."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.helpers import wait_until


class Exporter:
    """Serves /metrics from a callable, and extra routes tests register."""

    def __init__(self, metrics: Callable[[], str]) -> None:
        self.metrics = metrics
        self.routes: dict[str, Callable[[], None]] = {}
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path in exporter.routes:
                    exporter.routes[self.path]()
                    body = b'{"status": "healthy"}'
                else:
                    body = exporter.metrics().encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        # Bound here, on a port the kernel picks, and kept: no window for another process to take it.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for_query(prometheus_url: str, expr: str, predicate: Callable[[list], bool], timeout: float = 60.0) -> list:
    def result() -> list:
        body = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=5).json()
        return body.get("data", {}).get("result", [])

    return wait_until(
        result, timeout, f"{expr} satisfying the predicate", until=predicate, interval=0.5, ignore=(httpx.HTTPError,)
    )
