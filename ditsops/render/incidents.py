"""`incident list` and `incident show`: pure renderers (console, values) -> nothing returned,
and the Markdown of `incident show --markdown` (values in, text out).

Every text here came from a record or a label: shown as text (never as markup),
folded onto one line and cut to the terminal's width.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ditsops.incidents.listing import Acting, IncidentSummary
from ditsops.render.cells import cut, fold
from ditsops.render.lines import Out, line

if TYPE_CHECKING:  # types only: `incident list` imports neither the timeline's module nor rich
    from rich.console import Console

    from ditsops.incidents.timeline import IncidentDetail

_DEPLOYMENT = re.compile(r'deployment "([^"]+)" in namespace \S+')


def _when(moment: datetime | None, *, day: bool = True) -> str:
    if moment is None:
        return "?"
    return moment.astimezone(UTC).strftime("%m-%d %H:%M" if day else "%H:%M:%S")


def _labels(incident: IncidentSummary) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(incident.labels.items()) if k not in ("alertname", "severity"))


def _line(console: Out | Console, text: str, style: str = "") -> None:
    line(console, (cut(fold(text), max(console.width, 80)), style))


def _holding(acting: Acting) -> str:
    if not acting.holding:
        return ""
    said = {"live": ", lease live", "gone": ", lease gone: killed?"}.get(acting.lease, "")
    deployment = _DEPLOYMENT.fullmatch(acting.holding)  # the lease line's long form: the name says it
    return f", holding {deployment[1] if deployment else acting.holding}{said}"


def render_incidents(console: Out | Console, incidents: Sequence[IncidentSummary], *, more: bool) -> None:
    if not incidents:
        _line(console, "No open incidents.")
        return
    for incident in incidents:
        acting = "; ".join(f"{a.who} ({a.runbook}{_holding(a)})" for a in incident.acting)
        state = f"handed off to {incident.handed_to}" if incident.state == "handed off" else incident.state
        _line(console, f"{incident.id}  {incident.alert}  since {_when(incident.since)}  {state}", "bold")
        if _labels(incident):
            _line(console, f"  labels: {_labels(incident)}", "muted")
        _line(console, f"  acting: {acting or 'nobody now'}")
        if incident.applied:
            change = incident.applied[-1]
            more = f" (+{len(incident.applied) - 1} more)" if len(incident.applied) > 1 else ""
            _line(console, f"  applied: {_when(change.time)} {change.who}: {change.text}{more}")
        if incident.last:
            _line(console, f"  last: {_when(incident.last.time)} {incident.last.who}: {incident.last.text}")
    if more:
        _line(console, "(older incidents not shown: --limit N or --all)", "muted")


def render_incident(console: Console, detail: IncidentDetail) -> None:
    incident = detail.incident
    render_incidents(console, [incident], more=False)
    _line(console, f"  opened by {incident.opened_by}")
    _line(console, "")
    _line(console, "Timeline (UTC)", "bold")
    for entry in detail.timeline:
        run = f" [{entry.run[:16]}]" if entry.run else ""
        _line(console, f"  {_when(entry.time, day=False)} {entry.who}{run}: {entry.text}")
    if detail.truncated:
        _line(console, "  (more events than shown: the first ones only)", "muted")
    _line(console, "")
    _line(console, "Applied", "bold")
    for change in detail.changes or ():
        _line(console, f"  {change.step} by {change.who}: {change.summary}")
        _line(console, f"    undo: {change.undo or '(none recorded)'}", "muted")
    if not detail.changes:
        _line(console, "  nothing")
    _line(console, "Verdicts", "bold")
    for verdict in detail.verdicts:
        _line(console, f"  {verdict.runbook} ({verdict.who}): {verdict.word}: {verdict.reason}")
    if not detail.verdicts:
        _line(console, "  no run yet")
    _line(console, "Left undone", "bold")
    for item in detail.undone or ["nothing recorded"]:
        _line(console, f"  {item}")
    _line(console, "Next step", "bold")
    _line(console, f"  {detail.next_step}")


def _cell(text: object) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|").replace("`", "'")


def incident_markdown(detail: IncidentDetail) -> str:
    """The incident for the postmortem: every run of every engineer, one timeline."""
    incident = detail.incident
    lines = [
        f"# Incident {incident.id}: {_cell(incident.alert)}",
        "",
        f"- **Alert:** `{_cell(incident.alert)}` {_cell(_labels(incident))}",
        f"- **Opened:** {incident.since.isoformat()} by {_cell(incident.opened_by)}",
        f"- **State:** {incident.state}" + (f" (to {_cell(incident.handed_to)})" if incident.handed_to else ""),
        "",
        "## Timeline",
        "",
        "| time (UTC) | who | run | what happened |",
        "|---|---|---|---|",
    ]
    for entry in detail.timeline:
        when = entry.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"| {when} | {_cell(entry.who)} | {_cell(entry.run or '')} | {_cell(entry.text)} |")
    lines += ["", "## Changes applied, and how to undo them", ""]
    lines += [
        f"- `{_cell(c.step)}` by {_cell(c.who)}: {_cell(c.summary)} — undo: `{_cell(c.undo)}`" for c in detail.changes
    ]
    lines += ["- none"] if not detail.changes else []
    lines += ["", "## Verdicts", ""]
    lines += [
        f"- `{_cell(v.run)}` {_cell(v.runbook)} ({_cell(v.who)}): **{v.word}** {_cell(v.reason)}"
        for v in detail.verdicts
    ]
    lines += ["", "## Left undone", ""]
    lines += [f"- {_cell(item)}" for item in detail.undone] or ["- nothing recorded"]
    lines += ["", "## Next step", "", _cell(detail.next_step)]
    return "\n".join(lines).rstrip() + "\n"
