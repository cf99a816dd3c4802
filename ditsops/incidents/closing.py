"""Closing an incident: refused while its alerts fire, unless forced, and a forced close
is recorded as such, with the alerts that were firing.

Whether the alert still fires is asked of Alertmanager/Prometheus (core/alerting.py) at
the moment of closing; when neither answers, the close is refused too (nobody can say
the incident is over), and --force still closes it, saying so in the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ditsops.base.errors import DitsopsError, ExitCode, TargetUnreachable
from ditsops.incidents.listing import IncidentSummary
from ditsops.incidents.registry import alert_key, append, bounded
from ditsops.store.connection import StoreSession

if TYPE_CHECKING:
    from ditsops.core.config import Settings


class StillFiring(DitsopsError):
    """The incident's alerts fire: it is not over."""

    exit_code = ExitCode.REFUSED


def firing_now(settings: Settings, incident: IncidentSummary) -> list[str]:
    """The incident's alerts firing or pending now, as `Name{labels}`."""
    from ditsops.core.alerting import gather

    key = alert_key(incident.alert, incident.labels)
    found = []
    for view in gather(settings):
        alert = view.alert
        if (
            alert.name == incident.alert
            and alert.state in ("firing", "pending")
            and alert_key(alert.name, alert.labels) == key
        ):
            shown = ",".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity"))
            found.append(f"{alert.name}{{{shown}}} {alert.state}")
    return found


def close_incident(
    session: StoreSession, settings: Settings, incident: IncidentSummary, who: str, *, force: bool, note: str
) -> list[str]:
    """Close it; returns the alerts that were firing (only when forced)."""
    if incident.state == "closed":
        raise DitsopsError(f"incident {incident.id} is already closed")
    try:
        firing = firing_now(settings, incident)
        unknown = None
    except DitsopsError as error:
        firing, unknown = [], error
    if unknown is not None and not force:
        raise TargetUnreachable(
            f"cannot tell whether {incident.alert} still fires: {unknown.message}",
            hint=f"ditsops incident close {incident.id} --force closes it anyway (recorded as forced)",
        )
    if firing and not force:
        raise StillFiring(
            f"incident {incident.id} not closed: {'; '.join(firing)}",
            hint=f"wait until it resolves, or ditsops incident close {incident.id} --force (recorded as forced)",
        )
    body: dict[str, object] = {"forced": force and bool(firing or unknown), "firing": firing, "note": bounded(note)}
    if unknown is not None:
        body["unknown"] = bounded(unknown.message)
    append(session, incident.id, "close", who, body)
    return firing
