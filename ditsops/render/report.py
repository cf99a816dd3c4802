"""A run record as a Markdown timeline for the postmortem. Pure: events in, text out."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ditsops.render.cells import one_line, printable

if TYPE_CHECKING:
    from ditsops.core.record import Check


def _time(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).strftime("%H:%M:%S")
    except (TypeError, ValueError):
        return str(stamp)


def _one(text: Any) -> str:
    """A single-line field: a newline in it cannot start a Markdown line of its own."""
    return one_line(str(text if text is not None else ""))


def _cell(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def record_status(check: Check) -> str:
    """The `Record:` line: whether the hash chain holds, and where a cut record ends."""
    cut = f"; the record ends in a cut line at line {check.cut_line}: the run was killed" if check.cut_line else ""
    if check.status == "intact":
        return f"chain intact ({check.lines} lines)"
    if check.status == "cut":
        return f"chain intact ({check.lines} lines){cut}"
    if check.status == "unchained":
        return f"written without a hash chain (older ditsops){cut}"
    if check.status == "empty":
        return "empty: the run was killed before it wrote a line"
    return f"NOT intact: {check.problem}{cut}"


def markdown_report(events: list[dict[str, Any]], run_id: str, check: Check | None = None) -> str:
    events = [e for e in events if isinstance(e.get("event"), str)]
    start = next((e for e in events if e["event"] == "run-start"), {})
    end = next((e for e in reversed(events) if e["event"] == "run-end"), None)
    lines = [f"# {_one(start.get('title', 'Runbook run'))} — run {run_id}", ""]
    if check is not None:
        lines.append(f"- **Record:** {record_status(check)}")
    lines.append(f"- **Runbook:** `{start.get('runbook', '?')}` ({start.get('source', '?')})")
    lines.append(f"- **Started:** {start.get('ts', '?')} by {start.get('by', '?')}")
    target = start.get("target")
    for label, value in (target if isinstance(target, dict) else {}).items():
        lines.append(f"- **{_one(str(label).capitalize())}:** {_one(value)}")
    params = start.get("params")
    if isinstance(params, dict) and params:
        lines.append("- **Parameters:** " + ", ".join(f"`{_one(k)}={_one(v)}`" for k, v in params.items()))
    options = start.get("options") if isinstance(start.get("options"), dict) else {}
    mode = "dry run" if options.get("dry_run") else "interactive" if options.get("interactive") else "non-interactive"
    if options.get("yes"):
        mode += ", --yes"
    lines.append(f"- **Mode:** {mode}")
    if check is not None and check.cut_line:
        lines.append(f"- **Ended:** the record ends in a cut line at line {check.cut_line}: the run was killed")
    elif end:
        lines.append(
            f"- **Ended:** {end.get('ts', '?')} — exit {end.get('exit_code', '?')}: {_one(end.get('reason', ''))}"
        )
    elif check is not None and check.running:
        lines.append("- **Ended:** not yet: the run is still going (its writer is alive)")
    elif check is not None and check.cut_short:
        lines.append("- **Ended:** no run-end: the record stops here (the run was killed, or its last lines removed)")
    else:
        lines.append("- **Ended:** the record stops here (the run was killed or is still going)")
    lines += ["", "## Timeline", "", "| time (UTC) | step | what happened |", "|---|---|---|"]
    for event in events:
        row = _timeline_row(event)
        if row:
            lines.append(f"| {_time(event.get('ts'))} | {_cell(event.get('step', ''))} | {_cell(row)} |")
    queries = [e for e in events if e["event"] == "step" and e.get("query")]
    if queries:
        lines += ["", "## Queries and actions", ""]
        for event in queries:
            lexer = "sql" if event.get("kind") == "sql" else ""
            query = str(event["query"]).strip()
            # Longer than any run of backticks in the query: a value cannot close it early
            ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", query)), default=0))
            lines += [
                f"### {_one(event.get('step', '?'))}: {_one(event.get('title', ''))}",
                "",
                f"{ticks}{lexer}",
                query,
                ticks,
                "",
            ]
    previews = [e for e in events if e["event"] == "preview" and e.get("command")]
    if previews:
        lines += ["## Equivalent commands", ""]
        for event in previews:
            lines += [f"- `{event.get('step', '?')}`: `{_cell(event['command'])}`"]
    undos = _undos(events)
    if undos:
        lines += ["", "## How to undo what was applied", ""]
        for step, undo, before in undos:
            state = f" (state before: {_cell(before)})" if before else ""
            lines += [f"- `{step}`: `{undo}`{state}"]
    # The record holds text from runbooks, labels and backends: shown, never obeyed by the terminal.
    return printable("\n".join(lines).rstrip() + "\n")


def _undos(events: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """(step, undo command, state before) of every change the backend accepted: from the
    `applied` event written the moment it was accepted, so a run cut during the wait after
    it (Ctrl-C, a lost API server) still shows how to revert it; else from the step."""
    found: dict[str, tuple[str, str, Any]] = {}
    for event in events:
        data = event.get("result") if event["event"] == "step" else event if event["event"] == "applied" else None
        if isinstance(data, dict) and data.get("undo"):
            step = str(event.get("step", "?"))
            found.setdefault(step, (step, str(data["undo"]), data.get("before")))
    return list(found.values())


def _timeline_row(event: dict[str, Any]) -> str | None:
    kind = event["event"]
    if kind == "applied":
        undo = event.get("undo")
        return f"**accepted by the backend** — {event.get('summary', '')}" + (f" (undo: `{undo}`)" if undo else "")
    if kind == "state-moved":
        return f"the target changed since the preview; nothing sent: {event.get('what', '')}"
    if kind == "lease":
        return f"lease taken on {event.get('target', '?')} by {event.get('by', '?')}"
    if kind == "lease-held":
        return f"lease on {event.get('target', '?')} held by {event.get('holder', '?')}"
    if kind == "lease-override":
        who, displaced = event.get("by", "?"), event.get("displaced", "?")
        return f"lease overridden ({event.get('how', '')}) by {who}; displaced {displaced}"
    if kind == "lease-suspicious":
        return f"lease on {event.get('target', '?')} had unbelievable times, taken over: {event.get('holder', '?')}"
    if kind == "lease-released":
        return f"lease released on {event.get('target', '?')}"
    if kind == "step":
        undo = (event.get("result") or {}).get("undo") if isinstance(event.get("result"), dict) else None
        return f"**{event.get('status', '?')}** — {event.get('summary', '')}" + (f" (undo: `{undo}`)" if undo else "")
    if kind == "preview":
        return f"preview: {event.get('summary', '')}"
    if kind == "decision":
        verdict = "approved" if event.get("approved") else "not approved"
        return f"decision: {verdict} by {event.get('by', '?')} ({event.get('how', '')})"
    if kind == "recheck":
        return f"re-checked: **{event.get('status')}** — {event.get('summary', '')}"
    if kind == "escalation":
        return f"escalation reminder: {event.get('say', '')}"
    if kind == "run-end":
        return f"run ended, exit {event.get('exit_code')}: {event.get('reason', '')}"
    return None
