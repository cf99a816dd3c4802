"""Firing alerts from Alertmanager and Prometheus, each with the runbook that answers it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import ConfigError, DitsopsError, UsageError
from ditsops.core.config import Settings
from ditsops.core.invocation import ditsops_command

if TYPE_CHECKING:
    from ditsops.clients.alertmanager import Silence
    from ditsops.clients.prometheus import Alert
    from ditsops.core.guards import FiringNow

STATE_ORDER = {"firing": 0, "pending": 1, "inhibited": 2, "silenced": 3}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}  # any other severity sorts after these


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


def runbook_for(alert: Alert, by_alert: dict[str, str]) -> str | None:
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


def gather(settings: Settings, severities: Collection[str] = ()) -> list[AlertView]:
    """The alerts of `gathered`, without saying which source answered."""
    return gathered(settings, severities).views


@dataclass(frozen=True)
class Gathered:
    views: list[AlertView]
    answered: str  # "Alertmanager and Prometheus", "Alertmanager", "Prometheus"
    notes: tuple[str, ...] = ()  # a source that did not answer, and what is missing for it


def _ask(settings: Settings, which: str) -> list[Any]:
    from ditsops.core import connect

    client: Any = connect.alertmanager(settings) if which == "alertmanager" else connect.prometheus(settings)
    try:
        return list(client.alerts())
    finally:
        client.close()


def gathered(settings: Settings, severities: Collection[str] = ()) -> Gathered:
    """Alertmanager's view (firing, silenced, inhibited) plus Prometheus' pending alerts;
    Prometheus alone when no Alertmanager is configured. Only the given severities when
    some are given; in `by_severity` order.

    Monitoring goes down in incidents too: when one of the two cannot be asked (down, or an
    answer that is not an answer), the other answers alone and a note says what is missing;
    only when neither answers is it an error (exit 4)."""
    from ditsops.core.catalog import catalog

    if not settings.alertmanager_url and not settings.prometheus_url:
        raise ConfigError(
            "neither Alertmanager nor Prometheus is configured",
            hint="set alertmanager_url or prometheus_url in a profile, or use --profile sandbox",
        )
    from_am: list[Any] | None = None
    from_prom: list[Any] | None = None
    failed: list[DitsopsError] = []
    if settings.alertmanager_url:
        try:
            from_am = _ask(settings, "alertmanager")
        except (ConfigError, UsageError):
            raise
        except DitsopsError as error:
            failed.append(error)
    if settings.prometheus_url:
        try:
            from_prom = _ask(settings, "prometheus")
        except (ConfigError, UsageError):
            raise
        except DitsopsError as error:
            failed.append(error)
    if from_am is None and from_prom is None:
        raise failed[0]  # neither answered: the first one's error, exit 4 for a target down
    notes: list[str] = []
    if from_am is not None and from_prom is not None:
        alerts, answered = from_am + [a for a in from_prom if a.state == "pending"], "Alertmanager and Prometheus"
    elif from_am is not None:
        alerts, answered = from_am, "Alertmanager"
        if settings.prometheus_url:
            notes.append(f"{failed[0].message}: alerts from Alertmanager only (pending alerts not shown)")
    else:
        alerts, answered = from_prom or [], "Prometheus"
        if settings.alertmanager_url:
            notes.append(f"{failed[0].message}: alerts from Prometheus only (silences and inhibitions not shown)")
    by_alert = {e.runbook.alert: e.runbook.name for e in catalog() if e.runbook and e.runbook.alert}
    views = [
        AlertView(a, name, suggest(settings, a.name, name, by_alert))
        for a in alerts
        for name in [runbook_for(a, by_alert)]
    ]
    return Gathered(by_severity(with_severity(views, severities)), answered, tuple(notes))


def severity_rank(severity: str) -> int:
    """critical, warning, info, then every other severity (and none)."""
    return SEVERITY_ORDER.get(severity.lower(), len(SEVERITY_ORDER))


def by_severity(views: Iterable[AlertView]) -> list[AlertView]:
    """Most severe first; within a severity the oldest first (the one firing longest is
    usually the cause), alerts of unknown age after those; then state, then name."""
    oldest = datetime.max.replace(tzinfo=UTC)
    return sorted(
        views,
        key=lambda v: (
            severity_rank(v.alert.severity),
            v.alert.since or oldest,
            STATE_ORDER.get(v.alert.state, 9),
            v.alert.name,
        ),
    )


def parse_severities(given: Iterable[str]) -> tuple[str, ...]:
    """`--severity critical --severity warning` or `--severity critical,warning`, lower-cased."""
    found: list[str] = []
    for item in given:
        for part in item.split(","):
            name = part.strip().lower()
            if not name:
                raise UsageError(f"--severity {item!r}: expected a severity such as critical, warning or info")
            if name not in found:
                found.append(name)
    return tuple(found)


def with_severity(views: Iterable[AlertView], severities: Collection[str]) -> list[AlertView]:
    """The alerts whose severity label is one of `severities` (any case); all when none given."""
    wanted = {s.lower() for s in severities}
    return [v for v in views if not wanted or v.alert.severity.lower() in wanted]


def silence_by_prefix(silences: Sequence[Silence], prefix: str) -> Silence:
    """The one silence whose id is `prefix` or starts with it (a ditsops convenience: amtool wants the whole id).

    None, or several, is a usage error naming what was found: expiring the wrong silence
    would page people, so a prefix never picks one of several. Expired silences count only
    when no silence in effect matches: `silence list` hides them."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise UsageError("give a silence id, or a prefix of one that no other silence shares")
    exact = [s for s in silences if s.id.lower() == wanted]
    if exact:
        return exact[0]
    found = [s for s in silences if s.id.lower().startswith(wanted)]
    if not found:
        raise UsageError(f"no silence id starts with {prefix!r}", hint="ditsops silence list --expired shows every id")
    live = [s for s in found if s.state != "expired"]
    if len(found) > 1 and len(live) == 1:
        return live[0]  # the one `silence list` shows: expired ones are hidden there, and stay ended
    found = live or found
    if len(found) > 1:
        listed = "; ".join(
            f"{s.id} ({s.state}: {' '.join(m.describe() for m in s.matchers)})"
            for s in sorted(found, key=lambda s: s.id)
        )
        raise UsageError(f"silence id prefix {prefix!r} is ambiguous, it matches {len(found)} silences: {listed}")
    return found[0]


FIRING_TIMEOUT = 3  # seconds a walk waits for the alerts firing now

# Alerts that are firing, whatever a person did about the noise (a silence does not fix a database).
_FIRING_STATES = frozenset({"firing", "silenced", "inhibited", "suppressed", "active"})


def firing_now(settings: Settings) -> FiringNow:
    """The alerts firing now, for a walk's header, its `unless_firing:` guards and its verdict;
    what went wrong instead of an exception (a walk goes on without them)."""
    from dataclasses import replace

    from ditsops.core.guards import FiringNow, OtherAlert

    try:
        # Context, not the walk itself: a slow Prometheus holds the walk's start 3 s at most.
        found = gathered(replace(settings, http_timeout=min(settings.http_timeout, FIRING_TIMEOUT)))
    except DitsopsError as error:
        return FiringNow(problem=error.message)
    return FiringNow(
        tuple(
            OtherAlert(v.alert.name, v.alert.severity, v.runbook, v.command)
            for v in found.views
            if v.alert.state in _FIRING_STATES
        )
    )
