"""A run record as a Markdown timeline for the postmortem (`runbook report --markdown`).
Pure: events in, text out. The terminal view of the same facts is render/reportview.py."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ditsops.render.cells import printable
from ditsops.render.reportfacts import Row, record_status, report_facts

if TYPE_CHECKING:
    from ditsops.core.record import Check

__all__ = ["markdown_report", "record_status"]


def _cell(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def markdown_report(events: list[dict[str, Any]], run_id: str, check: Check | None = None) -> str:
    facts = report_facts(events, run_id, check)
    lines = [f"# {facts.title} — run {facts.run_id}", ""]
    if facts.record is not None:
        lines.append(f"- **Record:** {facts.record}")
    lines.append(f"- **Runbook:** `{facts.runbook}` ({facts.source})")
    lines.append(f"- **Started:** {facts.started} by {facts.by}")
    lines += [f"- **{label}:** {value}" for label, value in facts.target]
    if facts.params:
        lines.append("- **Parameters:** " + ", ".join(f"`{k}={v}`" for k, v in facts.params))
    lines.append(f"- **Mode:** {facts.mode}")
    lines.append(f"- **Ended:** {facts.ended}")
    lines += ["", "## Timeline", "", "| time (UTC) | step | what happened |", "|---|---|---|"]
    lines += [f"| {row.time} | {_cell(row.step)} | {_cell(_row_text(row))} |" for row in facts.rows]
    if facts.queries:
        lines += ["", "## Queries and actions", ""]
        for query in facts.queries:
            # Longer than any run of backticks in the query: a value cannot close it early
            ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", query.text)), default=0))
            lexer = "sql" if query.sql else ""
            lines += [f"### {query.step}: {query.title}", "", f"{ticks}{lexer}", query.text, ticks, ""]
    if facts.equivalents:
        lines += ["## Equivalent commands", ""]
        lines += [f"- `{step}`: `{_cell(command)}`" for step, command in facts.equivalents]
    if facts.undos:
        lines += ["", "## How to undo what was applied", ""]
        # The command only, and the state it brings back in words: the record keeps the state.
        lines += [
            f"- `{undo.step}`: `{_cell(undo.command)}`" + (f" — {undo.before}" if undo.before else "")
            for undo in facts.undos
        ]
    if facts.undone:
        lines += ["", "## Left undone or still failing", ""]
        lines += [f"- `{u.step}`: **{u.status}** — {_cell(u.summary)}" for u in facts.undone]
    # The record holds text from runbooks, labels and backends: shown, never obeyed by the terminal.
    return printable("\n".join(lines).rstrip() + "\n")


def _row_text(row: Row) -> str:
    text = f"{row.lead}**{row.word}**{row.rest}" if row.word else row.lead
    return text + (f" (undo: `{row.undo}`)" if row.undo and not row.undo_in_text else "")
