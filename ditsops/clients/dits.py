"""The Dits server's health endpoints: /health, /health/live, /health/ready."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditsops.base.secrets import redact_url
from ditsops.clients.bounded import DEFAULT_MAX_BYTES
from ditsops.clients.http import make_client, request

if TYPE_CHECKING:
    from ditsops.base.origins import Credentials


@dataclass(frozen=True)
class Probe:
    path: str
    http_status: int
    latency_ms: float
    body: Any = None
    json: bool = False  # the body was JSON (parsed); otherwise text, shown as it came

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300


class DitsClient:
    """One Dits server. A URL other than the configured origins gets no credentials at all
    (`configured_origin` is then False, so the command can say so); what the answers mean
    is read in core/health.py."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float,
        secrets: frozenset[str],
        name: str = "Dits server",
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.url = url
        self.name = name
        self._secrets = secrets
        self._http = make_client(self.url, credentials, timeout, max_bytes)
        self.configured_origin = credentials.configured

    @property
    def where(self) -> str:
        return redact_url(self.url) or self.url

    def close(self) -> None:
        self._http.close()

    def get(self, path: str) -> Probe:
        began = time.monotonic()
        # Every status is an answer here: 503 is how /health says "degraded".
        response = request(self._http, "GET", path, self.name, self._secrets, ok_statuses=tuple(range(400, 600)))
        latency = (time.monotonic() - began) * 1000
        try:
            body, parsed = response.json(), True
        except ValueError:
            body, parsed = response.text[:500], False
        return Probe(path, response.status_code, round(latency, 1), body, parsed)
