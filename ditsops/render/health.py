"""The Dits health report on a terminal and as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console

from ditsops.base.durations import format_duration
from ditsops.core.health import Health
from ditsops.core.results import Table
from ditsops.render.cells import escape_line
from ditsops.render.tables import render_table

_STYLE = {"healthy": "ok", "degraded": "warning", "unhealthy": "failing"}


def render_health(console: Console, health: Health) -> None:
    style = _STYLE.get(health.status, "failing")
    uptime = f", up {format_duration(float(health.uptime_seconds))}" if health.uptime_seconds is not None else ""
    version = f", version {health.version}" if health.version else ""
    console.print(f"[{style}]{escape_line(health.status)}[/] {escape_line(health.url + version)}{uptime}")
    render_table(
        console,
        Table(
            ("check", "status", "latency (ms)", "message"),
            [(c.name, c.status, c.latency_ms, c.message) for c in health.checks],
        ),
    )
    render_table(
        console,
        Table(("endpoint", "HTTP", "latency (ms)"), [(p.path, p.http_status, p.latency_ms) for p in health.probes]),
    )


def health_json(health: Health) -> dict[str, Any]:
    return {
        "url": health.url,
        "status": health.status,
        "healthy": health.healthy,
        "version": health.version,
        "uptime_seconds": health.uptime_seconds,
        "checks": [asdict(c) for c in health.checks],
        "probes": [{"path": p.path, "http_status": p.http_status, "latency_ms": p.latency_ms} for p in health.probes],
    }
