"""The Dits server's health as one report: /health's own verdict and checks, and the
answers of /health, /health/live and /health/ready."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ditsops.clients.dits import DitsClient, Probe


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: str
    latency_ms: float | None
    message: str | None


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


def check_health(client: DitsClient) -> Health:
    """Ask the three endpoints; /health's body (shape-checked) gives the status and checks,
    its HTTP status when the body says nothing."""
    from ditsops.clients.shapes import dits_health

    full = client.get("/health")
    probes = [full, client.get("/health/live"), client.get("/health/ready")]
    checked = dits_health(full.body, json=full.json)
    body = checked if isinstance(checked, dict) else {}
    checks = [
        HealthCheck(c.get("name", "?"), c.get("status", "?"), c.get("latency_ms"), c.get("message"))
        for c in body.get("checks", [])
    ]
    status = body.get("status") or ("healthy" if full.ok else "unhealthy")
    return Health(client.where, status, body.get("version"), body.get("uptime_seconds"), checks, probes)
