"""What a starting run joins: the open incident of its firing alert (opening one), or, for
a direct destructive command, the open incident of its target.

Called by the cli once the run has its record and before its first line, so the run-start
line carries the incident. The store being unreachable never stops a run: the run goes on
without an incident, and the reason is returned for the cli to say once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ditsops.base.errors import DitsopsError
from ditsops.core.identity import who

if TYPE_CHECKING:
    from ditsops.core.config import Settings


@dataclass(frozen=True)
class AlertRef:
    name: str
    labels: dict[str, str]
    since: datetime | None


@dataclass(frozen=True)
class Joined:
    incident: str | None
    opened: bool = False
    problem: str | None = None  # why the run joined none although it should have


def join_for_run(
    settings: Settings,
    run_id: str,
    runbook: str,
    *,
    alert: AlertRef | None = None,
    target: str | None = None,
    incident: str | None = None,
) -> Joined:
    """incident: join this one by id (a run that continues another joins its incident:
    the seam for `runbook resume`), else the alert's, else the target's."""
    if not settings.record_store or (alert is None and not target and not incident):
        return Joined(None)
    from ditsops.incidents.registry import append, join_alert, join_target, resolve
    from ditsops.store.connection import failed_before, open_session

    if failed_before(settings.record_store):
        return Joined(None, problem="the record store is unreachable: this run joins no incident")
    run = {"run": run_id, "runbook": runbook}
    try:
        session = open_session(settings.record_store, settings.secrets())
    except DitsopsError as error:
        return Joined(None, problem=f"{error.message}: this run joins no incident")
    try:
        if incident is not None:
            found = resolve(session, incident)
            append(session, found, "join", who(), run)
            return Joined(found)
        if alert is not None:
            incident, opened = join_alert(session, alert.name, alert.labels, alert.since, who(), run)
            return Joined(incident, opened)
        assert target is not None
        return Joined(join_target(session, target, who(), run))
    except DitsopsError as error:
        return Joined(None, problem=f"{error.message}: this run joins no incident")
    finally:
        session.close()
