"""The Dits server's health endpoints: /health, /health/live, /health/ready."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ditsops.clients.http import make_client, request, require_url
from ditsops.clients.shapes import dits_health
from ditsops.core.secrets import redact_url

if TYPE_CHECKING:
    from ditsops.core.config import Settings


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: str
    latency_ms: float | None
    message: str | None


@dataclass(frozen=True)
class Probe:
    path: str
    http_status: int
    latency_ms: float
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300


@dataclass(frozen=True)
class Health:
    url: str  # redacted: no userinfo, no secret query parameters
    status: str  # healthy | degraded | unhealthy | unknown
    version: str | None
    uptime_seconds: float | None
    checks: list[HealthCheck] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.status == "healthy" and all(p.ok for p in self.probes)


class DitsClient:
    """One Dits server. A URL other than the configured origins gets no credentials at all
    (`configured_origin` is then False, so the command can say so)."""

    def __init__(self, settings: Settings, url: str | None = None, name: str = "Dits server") -> None:
        self.url = require_url(url or settings.dits_url, "Dits server", "dits_url")
        self.name = name
        self._secrets = settings.secrets()
        self._http = make_client(settings, self.url)
        self.configured_origin = self._http.ditsops_credentials.configured

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
            body = response.json()
        except ValueError:
            body = response.text[:500]
        return Probe(path, response.status_code, round(latency, 1), body)

    def health(self) -> Health:
        full = self.get("/health")
        probes = [full, self.get("/health/live"), self.get("/health/ready")]
        body = dits_health(full.body) if isinstance(full.body, dict) else {}
        checks = [
            HealthCheck(c.get("name", "?"), c.get("status", "?"), c.get("latency_ms"), c.get("message"))
            for c in body.get("checks", [])
        ]
        status = body.get("status") or ("healthy" if full.ok else "unhealthy")
        return Health(self.where, status, body.get("version"), body.get("uptime_seconds"), checks, probes)
