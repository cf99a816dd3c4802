"""`runbook report` on a terminal (or piped into `cat`, `less`): the run's facts as plain
lines, readable at 80 columns. Pure: (console, events) -> nothing returned.

The words wrap at spaces under their column, never inside a word; a command (an undo, an
`Equivalent:` kubectl line, a query line) is printed whole on a line of its own, soft
wrapped: the terminal may fold it on screen, the clipboard gets one line that pastes.
The Markdown of the same facts is render/report.py (`--markdown`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from ditsops.render.cells import printable
from ditsops.render.console import STATUS_STYLE
from ditsops.render.reportfacts import ReportFacts, Row, report_facts

if TYPE_CHECKING:
    from ditsops.core.record import Check

MIN_WIDTH = 40  # below it, the columns would leave no room: lines run on, still whole
MAX_STEP = 20  # a longer step id takes its own room on its line; the text column stays put
LABEL = 13  # "Dits server", the longest header label, and two spaces
# The first word of a command a person may paste: the words from it to the end of the
# clause (`;`) are kept on one line by the wrapping.
COMMANDS = ("ditsops", "kubectl", "amtool", "psql", "promtool")


def render_report(console: Console, events: list[dict[str, Any]], run_id: str, check: Check | None = None) -> None:
    facts = report_facts(events, run_id, check)
    width = max(console.width, MIN_WIDTH)
    _line(console, Text(f"{facts.title} — run {facts.run_id}", style="title"))
    _header(console, facts, width)
    _timeline(console, facts, width)
    if facts.undone:
        _section(console, "Left undone or still failing")
        step_width = min(max(len(u.step) for u in facts.undone), MAX_STEP)
        for undone in facts.undone:
            head = Text(f"  {undone.step.ljust(step_width)}  ")
            head.append(undone.status, style=STATUS_STYLE.get(undone.status, ""))
            words = f" — {undone.summary}" if undone.summary else ""
            _wrapped(console, head, words, width, indent=2 + step_width + 2)
    if facts.undos:
        _section(console, "How to undo what was applied")
        for undo in facts.undos:
            _wrapped(console, Text(f"  {undo.step}:" + (" " if undo.before else "")), undo.before, width)
            _line(console, Text(f"    undo: {undo.command}"))
    if facts.equivalents:
        _section(console, "Equivalent commands")
        for step, command in facts.equivalents:
            _line(console, Text(f"  {step}:", style="muted"))
            _line(console, Text(f"    {command}"))
    if facts.queries:
        _section(console, "Queries and actions")
        for query in facts.queries:
            _wrapped(console, Text(f"  {query.step}: ", style="title"), query.title, width)
            for text in query.text.splitlines():
                _line(console, Text("    " + printable(text), style="query"))


def _header(console: Console, facts: ReportFacts, width: int) -> None:
    rows = [] if facts.record is None else [("Record", facts.record)]
    rows += [("Runbook", f"{facts.runbook} ({facts.source})"), ("Started", f"{facts.started} by {facts.by}")]
    rows += facts.target
    if facts.params:
        rows.append(("Parameters", ", ".join(f"{k}={v}" for k, v in facts.params)))
    rows.append(("Mode", facts.mode))
    for label, value in rows:
        _wrapped(console, Text(f"  {label.ljust(LABEL - 1)} "), value, width)
    # The verdict is one line however narrow the terminal, as the walk prints it.
    _line(console, Text(f"  {'Ended'.ljust(LABEL - 1)} {facts.ended}"))


def _timeline(console: Console, facts: ReportFacts, width: int) -> None:
    _section(console, "Timeline (UTC)")
    if not facts.rows:
        _line(console, Text("  nothing recorded", style="muted"))
        return
    step_width = min(max(len(row.step) for row in facts.rows), MAX_STEP)
    column = " " * (len("00:00:00  ") + step_width + 2)  # where the words of every row start
    for row in facts.rows:
        head = Text(f"{row.time}  {row.step.ljust(step_width)}  ")
        if row.verdict:
            _line(console, head + Text(row.lead))
            continue
        if not row.word:
            _wrapped(console, head, row.lead, width, indent=len(column))
            continue
        head.append(row.lead)
        head.append(row.word, style=_style(row))
        _wrapped(console, head, _without_undo(row), width, indent=len(column))
        if row.undo:
            _line(console, Text(f"{column}undo: {row.undo}"))


def _style(row: Row) -> str:
    if row.word == "accepted by the backend":
        return "ok"
    return STATUS_STYLE.get(row.word, "")


def _without_undo(row: Row) -> str:
    """The row's words without the undo its summary names: the command gets its own line."""
    if not row.undo_in_text:
        return row.rest
    at = row.rest.rfind("undo: ")
    return row.rest[:at].rstrip().rstrip(";").rstrip() if at >= 0 else row.rest


def _section(console: Console, title: str) -> None:
    console.print()
    _line(console, Text(title, style="title"))


def _line(console: Console, text: Text) -> None:
    """One line, never broken by rich: a long one is the terminal's to fold on screen."""
    console.print(text, soft_wrap=True, no_wrap=True, crop=False)


def _wrapped(console: Console, head: Text, words: str, width: int, *, indent: int | None = None) -> None:
    """`head` then `words`, wrapped at spaces to `width`; the lines after the first start
    at `indent` (default: under the first word). A word (or a command's words) longer
    than a line is printed whole on a line of its own, not cut."""
    indent = head.cell_len if indent is None else indent
    lines: list[str] = []
    current, used = "", head.cell_len
    for token in _tokens(words):
        if not lines and not current:
            current = token  # the first keeps its leading space: ' — summary' after a status
        elif used + cell_len(current) + cell_len(token) <= width or not current.strip():
            current += token
        else:
            lines.append(current)
            current, used = token.lstrip(), indent
    lines.append(current)
    _line(console, head + Text(printable(lines[0])))
    for rest in lines[1:]:
        _line(console, Text(" " * indent + printable(rest)))


def _tokens(words: str) -> list[str]:
    """The words with the space before each (' word'), a command and its arguments up to
    the end of its clause (`;`, a closing quote or bracket) being one token."""
    tokens: list[str] = []
    gluing = False
    for index, word in enumerate(words.split(" ")):
        joined = word if index == 0 else " " + word
        if gluing:
            tokens[-1] += joined
        else:
            tokens.append(joined)
            gluing = word.lstrip("`'\"(") in COMMANDS
            if gluing:
                continue
        if word.endswith((";", ")", "`", "'", '"')):
            gluing = False
    return tokens
