"""What a run's report says, read once from its record's events: the header, the timeline,
the queries, the equivalent commands, how to undo, what was left undone. The terminal
view (render/reportview.py) and the Markdown one (render/report.py) draw the same facts.

Pure: events in, plain values out. Everything here came from a file anyone could edit:
fields are read defensively (a missing or odd field reads `?`), never trusted as markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ditsops.render.cells import cut, one_line
from ditsops.render.runbook import split_undo

if TYPE_CHECKING:
    from ditsops.core.record import Check

# Statuses a step can end in that leave something not done or still wrong: the report
# lists them apart, so a declined fix or a still-failing check is not lost in the timeline.
UNDONE = ("failing", "error", "declined", "refused", "skipped", "previewed", "pending")
MAX_SHOWN = 200  # characters of one value in a state-before summary (an image name is far less)
NO_STATE = "state before kept in the record"


@dataclass(frozen=True)
class Row:
    """One timeline line: `lead` + `word` (the status, stressed) + `rest`, and the undo
    command the change it records can be reverted with ('' when none)."""

    time: str
    step: str
    lead: str
    word: str = ""
    rest: str = ""
    undo: str = ""
    undo_in_text: bool = False  # the summary names the undo itself (the step's own words)
    verdict: bool = False  # the run-end line: the verdict, never wrapped


@dataclass(frozen=True)
class Query:
    step: str
    title: str
    text: str
    sql: bool


@dataclass(frozen=True)
class Undo:
    step: str
    command: str
    before: str  # a short human summary of the state replaced, NO_STATE, or '' when none was recorded


@dataclass(frozen=True)
class Undone:
    step: str
    status: str
    summary: str


@dataclass
class ReportFacts:
    title: str
    run_id: str
    record: str | None  # whether the hash chain holds; None: not checked
    runbook: str
    source: str  # the runbook's file, or what stands for none
    started: str
    by: str
    target: list[tuple[str, str]]
    params: list[tuple[str, str]]
    mode: str
    ended: str
    rows: list[Row] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    equivalents: list[tuple[str, str]] = field(default_factory=list)
    undos: list[Undo] = field(default_factory=list)
    undone: list[Undone] = field(default_factory=list)


def _one(text: Any) -> str:
    """A single-line field: a newline in it cannot start a line of its own."""
    return one_line(str(text if text is not None else ""))


def time_of(stamp: Any) -> str:
    try:
        return datetime.fromisoformat(stamp).strftime("%H:%M:%S")
    except (TypeError, ValueError):
        return _one(stamp)  # shown as it is, on its one line


def record_status(check: Check) -> str:
    """The `Record:` line: whether the hash chain holds, and where a cut record ends."""
    cut_at = f"; the record ends in a cut line at line {check.cut_line}: the run was killed" if check.cut_line else ""
    if check.status == "intact":
        return f"chain intact ({check.lines} lines)"
    if check.status == "cut":
        return f"chain intact ({check.lines} lines){cut_at}"
    if check.status == "unchained":
        return f"written without a hash chain (older ditsops){cut_at}"
    if check.status == "empty":
        return "empty: the run was killed before it wrote a line"
    return f"NOT intact: {check.problem}{cut_at}"


def source_of(start: dict[str, Any]) -> str:
    """The runbook's file; a direct command's runbook has none (null, or "None" as older
    versions wrote it)."""
    if "source" not in start:
        return "?"
    source = start["source"]
    return "a direct command: no runbook file" if source in (None, "None") else _one(source)


def report_facts(events: list[dict[str, Any]], run_id: str, check: Check | None = None) -> ReportFacts:
    events = [e for e in events if isinstance(e.get("event"), str)]
    start = next((e for e in events if e["event"] == "run-start"), {})
    end = next((e for e in reversed(events) if e["event"] == "run-end"), None)
    target = start.get("target")
    params = start.get("params")
    options = start.get("options") if isinstance(start.get("options"), dict) else {}
    mode = "dry run" if options.get("dry_run") else "interactive" if options.get("interactive") else "non-interactive"
    if options.get("yes"):
        mode += ", --yes"
    facts = ReportFacts(
        title=_one(start.get("title", "Runbook run")),
        run_id=_one(run_id),  # a file's name, when the run was given as a path
        record=record_status(check) if check is not None else None,
        runbook=_one(start.get("runbook", "?")),
        source=source_of(start),
        started=_one(start.get("ts", "?")),
        by=_one(start.get("by", "?")),
        target=[(_one(str(k).capitalize()), _one(v)) for k, v in (target if isinstance(target, dict) else {}).items()],
        params=[(_one(k), _one(v)) for k, v in (params if isinstance(params, dict) else {}).items()],
        mode=mode,
        ended=_ended(end, check),
    )
    facts.rows = [row for event in events if (row := _row(event)) is not None]
    facts.queries = [
        Query(_one(e.get("step", "?")), _one(e.get("title", "")), str(e["query"]).strip(), e.get("kind") == "sql")
        for e in events
        if e["event"] == "step" and e.get("query")
    ]
    facts.equivalents = [
        (_one(e.get("step", "?")), _one(e["command"])) for e in events if e["event"] == "preview" and e.get("command")
    ]
    facts.undos = _undos(events)
    facts.undone = _undone(events)
    return facts


def _ended(end: dict[str, Any] | None, check: Check | None) -> str:
    if check is not None and check.cut_line:
        return f"the record ends in a cut line at line {check.cut_line}: the run was killed"
    if end:
        return f"{_one(end.get('ts', '?'))} — exit {_one(end.get('exit_code', '?'))}: {_one(end.get('reason', ''))}"
    if check is not None and check.running:
        return "not yet: the run is still going (its writer is alive)"
    if check is not None and check.cut_short:
        return "no run-end: the record stops here (the run was killed, or its last lines removed)"
    return "the record stops here (the run was killed or is still going)"


def _row(event: dict[str, Any]) -> Row | None:
    kind, at, step = event["event"], time_of(event.get("ts")), _one(event.get("step", ""))
    summary = _one(event.get("summary", ""))
    if kind in ("applied", "step"):
        data = event if kind == "applied" else event.get("result")
        undo = _one(data.get("undo")) if isinstance(data, dict) and data.get("undo") else ""
        word = "accepted by the backend" if kind == "applied" else _one(event.get("status", "?"))
        named = bool(undo) and split_undo(summary)[1] == undo
        return Row(at, step, "", word, f" — {summary}", undo=undo, undo_in_text=named)
    if kind == "recheck":
        return Row(at, step, "re-checked: ", _one(event.get("status")), f" — {summary}")
    text = _plain_row(kind, event)
    if text is None:
        return None
    return Row(at, step, _one(text), verdict=kind == "run-end")


def _plain_row(kind: str, event: dict[str, Any]) -> str | None:
    get = event.get
    if kind == "state-moved":
        return f"the target changed since the preview; nothing sent: {get('what', '')}"
    if kind == "lease":
        return f"lease taken on {get('target', '?')} by {get('by', '?')}"
    if kind == "lease-held":
        return f"lease on {get('target', '?')} held by {get('holder', '?')}"
    if kind == "lease-override":
        return f"lease overridden ({get('how', '')}) by {get('by', '?')}; displaced {get('displaced', '?')}"
    if kind == "lease-suspicious":
        return f"lease on {get('target', '?')} had unbelievable times, taken over: {get('holder', '?')}"
    if kind == "lease-released":
        return f"lease released on {get('target', '?')}"
    if kind == "preview":
        return f"preview: {get('summary', '')}"
    if kind == "decision":
        verdict = "approved" if get("approved") else "not approved"
        return f"decision: {verdict} by {get('by', '?')} ({get('how', '')})"
    if kind == "escalation":
        return f"escalation reminder: {get('say', '')}"
    if kind == "run-end":
        return f"run ended, exit {get('exit_code')}: {get('reason', '')}"
    return None


def _undos(events: list[dict[str, Any]]) -> list[Undo]:
    """Every change the backend accepted and how to revert it: from the `applied` event
    written the moment it was accepted, so a run cut during the wait after it (Ctrl-C, a
    lost API server) still shows how to revert it; else from the step."""
    found: dict[str, Undo] = {}
    for event in events:
        data = event.get("result") if event["event"] == "step" else event if event["event"] == "applied" else None
        if isinstance(data, dict) and data.get("undo"):
            step = _one(event.get("step", "?"))
            found.setdefault(step, Undo(step, _one(data["undo"]), state_before(data.get("before"))))
    return list(found.values())


def state_before(before: Any) -> str:
    """The state a change replaced, in a few words (`revision 2, image …:1.5.0, 3
    replicas`); the record keeps all of it. Never a Python repr of the record's dict.
    '' when the change recorded no state before (a silence added: its undo expires it)."""
    if before is None:
        return ""
    if not isinstance(before, dict):
        return NO_STATE
    parts: list[str] = []
    cronjob = before.get("cronjob")
    if isinstance(cronjob, str) and cronjob:
        parts.append(f"cronjob/{_short(cronjob)}" + (" (suspended)" if before.get("suspended") is True else ""))
    revision = before.get("revision")
    if isinstance(revision, int) and not isinstance(revision, bool):
        parts.append(f"revision {revision}")
    images = before.get("images")
    if isinstance(images, list) and images and all(isinstance(i, str) for i in images):
        shown = ", ".join(_short(i) for i in images[:3]) + (f" and {len(images) - 3} more" if len(images) > 3 else "")
        parts.append(("image " if len(images) == 1 else "images ") + shown)
    replicas = before.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool):
        parts.append(f"{replicas} replica" + ("" if replicas == 1 else "s"))
    if before.get("paused") is True:
        parts.append("paused")
    return "state before: " + ", ".join(parts) if parts else NO_STATE


def _short(value: str) -> str:
    return cut(_one(value), MAX_SHOWN)


def _undone(events: list[dict[str, Any]]) -> list[Undone]:
    """Each step whose last word (its result, or a later re-check) leaves something not
    done or still wrong: declined, skipped, refused, failing, pending... in the order the
    steps first ran."""
    last: dict[str, Undone] = {}
    for event in events:
        if event["event"] in ("step", "recheck") and isinstance(event.get("status"), str):
            step = _one(event.get("step", "?"))
            last[step] = Undone(step, _one(event["status"]), split_undo(_one(event.get("summary", "")))[0])
    return [u for u in last.values() if u.status in UNDONE]
