"""Firing alerts from Alertmanager and Prometheus, each with the runbook that answers it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ditsops.core.config import Settings
from ditsops.core.errors import ConfigError
from ditsops.core.invocation import ditsops_command

STATE_ORDER = {"firing": 0, "pending": 1, "inhibited": 2, "silenced": 3}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class AlertView:
    alert: Any  # clients.prometheus.Alert
    runbook: str | None  # runbook name
    command: str = ""  # what to paste to run it, on the same target as this listing

    def to_json(self) -> dict[str, Any]:
        a = self.alert
        return {
            "alertname": a.name,
            "state": a.state,
            "severity": a.severity,
            "since": a.since.isoformat() if a.since else None,
            "summary": a.annotations.get("summary", ""),
            "labels": a.labels,
            "annotations": a.annotations,
            "source": a.source,
            "silenced_by": list(a.silenced_by),
            "inhibited_by": list(a.inhibited_by),
            "runbook": self.runbook,
            "command": self.command,
        }


def runbook_for(alert, by_alert: dict[str, str]) -> str | None:
    named = alert.annotations.get("runbook")
    return named or by_alert.get(alert.name)


def suggest(settings: Settings, alertname: str, runbook: str | None, by_alert: dict[str, str]) -> str:
    """The command that walks `runbook` for this alert, with the listing's target options.
    `--alert` when the runbook answers the alert by name: it fills parameters from labels."""
    if not runbook:
        return ""
    if by_alert.get(alertname) == runbook:
        return ditsops_command(settings, "runbook", "--alert", alertname)
    return ditsops_command(settings, "runbook", runbook)


def gather(settings: Settings) -> list[AlertView]:
    """Alertmanager's view (firing, silenced, inhibited) plus Prometheus' pending alerts;
    Prometheus alone when no Alertmanager is configured."""
    from ditsops.core.catalog import catalog

    if not settings.alertmanager_url and not settings.prometheus_url:
        raise ConfigError(
            "neither Alertmanager nor Prometheus is configured",
            hint="set alertmanager_url or prometheus_url in a profile, or use --profile sandbox",
        )
    alerts = []
    if settings.alertmanager_url:
        from ditsops.core import connect

        client = connect.alertmanager(settings)
        try:
            alerts += client.alerts()
        finally:
            client.close()
    if settings.prometheus_url:
        from ditsops.core import connect

        prom = connect.prometheus(settings)
        try:
            found = prom.alerts()
        finally:
            prom.close()
        alerts += [a for a in found if a.state == "pending" or not settings.alertmanager_url]
    by_alert = {e.runbook.alert: e.runbook.name for e in catalog() if e.runbook and e.runbook.alert}
    views = [
        AlertView(a, name, suggest(settings, a.name, name, by_alert))
        for a in alerts
        for name in [runbook_for(a, by_alert)]
    ]
    oldest = datetime.max.replace(tzinfo=UTC)
    return sorted(
        views,
        key=lambda v: (
            STATE_ORDER.get(v.alert.state, 9),
            SEVERITY_ORDER.get(v.alert.severity, 9),
            v.alert.since or oldest,
            v.alert.name,
        ),
    )
