"""Every table ditsops prints, with one column policy (kubectl's output contract).

A column is one of three kinds, decided here and nowhere else:

- identifier (the default): names, ids, images, paths, URLs, numbers, states: what an
  engineer copies into the next command. Never cut and never wrapped: the column is as
  wide as its widest cell.
- text: free text (queries, messages, summaries, titles). On a terminal it takes the width
  the identifiers leave and is cut with `…`; `full` shows it whole, folded in its column.
- tail: a sparkline. Cut from the left, so the newest points stay.

Not a terminal (a pipe, a file): no width limit, every cell whole on one line, as
`kubectl get … | cat` prints. On a terminal too narrow for the identifiers, columns named
expendable are left out first (saying so); if it is still too narrow the rows are printed
as records, one `column  value` line each (psql's `\\x auto`), rather than cut a name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from ditsops.core.results import Table
from ditsops.render.cells import MAX_CELL, cell, one_line
from ditsops.render.console import print_at, unbounded

ColumnKind = Literal["identifier", "text", "tail"]

# Free text: what a reader skims, never what they paste.
TEXT_COLUMNS = frozenset(
    {"query", "message", "summary", "result", "title", "description", "comment", "labels", "change-cause"}
)
TAIL_COLUMNS = frozenset({"trend"})
MIN_TEXT = 20  # a text column narrower than this is worth leaving out an expendable column for
TIGHT_TEXT = 10  # below this it tells nothing: print records instead
GAP = 2  # blank columns between two table columns
# Left out first, in this order, when the terminal is too narrow for every column.
EXPENDABLE = ("database", "client", "user", "application")


def column_kind(name: str, kinds: Mapping[str, ColumnKind] | None = None) -> ColumnKind:
    if kinds and name in kinds:
        return kinds[name]
    if name in TEXT_COLUMNS:
        return "text"
    if name in TAIL_COLUMNS:
        return "tail"
    return "identifier"


def _as_text(value: Any, style: str, full: bool) -> Text:
    if isinstance(value, Text):
        text = value.copy()
        text.plain = _bounded(cell(text.plain), full)  # one line, like every other cell
        if style:
            text.stylize(style)
        return text
    return Text(_bounded(cell(value), full), style=style)


def _bounded(text: str, full: bool) -> str:
    """A cell from outside may be a 10 MB label: past MAX_CELL characters it is cut with
    `…` (piped too), unless --full asks for it whole."""
    return text if full or len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _style(styles: dict[str, dict[str, str]] | None, column: str, value: Any) -> str:
    return (styles or {}).get(column, {}).get(cell(value.plain if isinstance(value, Text) else value), "")


def _shorten(text: Text, width: int, kind: ColumnKind) -> Text:
    """A text cell cut to width with `…`; a tail cell cut from the left, newest kept."""
    if text.cell_len <= width:
        return text
    if kind == "tail":
        kept = text[len(text) - (width - 1) :]
        return Text("…", style=text.style) + kept
    cut = text.copy()
    cut.truncate(width, overflow="ellipsis")
    return cut


def _widths(columns: Sequence[int], natural: dict[int, int], kinds: dict[int, ColumnKind], room: int) -> dict[int, int]:
    """Identifier columns get their natural width; text columns share what is left (the
    narrowest first, each at most its natural width). Raises nothing: the caller checks fit."""
    widths = {i: natural[i] for i in columns if kinds[i] == "identifier"}
    left = room - sum(widths.values()) - GAP * (len(columns) - 1)
    flexible = sorted((i for i in columns if kinds[i] != "identifier"), key=lambda i: natural[i])
    for position, index in enumerate(flexible):
        share = left // (len(flexible) - position)
        widths[index] = max(min(natural[index], share), 0)
        left -= widths[index]
    return widths


def _fits(
    columns: Sequence[int], natural: dict[int, int], kinds: dict[int, ColumnKind], room: int, text: int = MIN_TEXT
) -> bool:
    needed = sum(natural[i] if kinds[i] == "identifier" else min(natural[i], text) for i in columns)
    return needed + GAP * (len(columns) - 1) <= room


def render_table(
    console: Console,
    table: Table,
    *,
    full: bool = False,
    title: str | None = None,
    styles: dict[str, dict[str, str]] | None = None,
    expendable: tuple[str, ...] = EXPENDABLE,
    kinds: Mapping[str, ColumnKind] | None = None,
    too_narrow: Literal["records", "long lines"] = "records",
) -> None:
    """styles: column -> cell text -> rich style, e.g. {"state": {"firing": "failing"}}.
    kinds: column kinds for this table where a column's name alone does not say it.
    too_narrow: what a terminal too narrow for the identifiers gets: records, or the table
    with lines longer than the terminal (for a table whose one long column is the last, so
    only its long rows run over). Cells may be rich Text (kept with their style)."""
    if not table.rows:
        return  # the step's summary already says there is nothing
    names = table.columns
    rows = [[_as_text(v, _style(styles, names[i], v), full) for i, v in enumerate(row)] for row in table.rows]
    kind = {i: column_kind(name, kinds) for i, name in enumerate(names)}
    columns = [i for i in range(len(names)) if any(r[i].plain for r in rows)]  # all-empty columns say nothing
    natural = {i: max([Text(names[i]).cell_len, *(r[i].cell_len for r in rows)]) for i in columns}
    heading = title or table.title
    if heading:
        console.print(Text(one_line(heading), style="table.title"), soft_wrap=True)

    if unbounded(console):  # a pipe or a file: every cell whole, lines as long as they need
        _print_table(console, names, rows, columns, natural, kind, full=False)
    else:
        hidden: list[str] = []
        room = console.width
        for name in expendable:
            if full or _fits(columns, natural, kind, room):
                break
            if name in names and names.index(name) in columns:
                columns.remove(names.index(name))
                hidden.append(name)
        widths = _widths(columns, natural, kind, room)
        # --full folds text in its column: not in a sliver of one (records instead)
        folds_fit = not full or all(widths[i] >= min(natural[i], MIN_TEXT) for i in columns if kind[i] != "identifier")
        if _fits(columns, natural, kind, room, TIGHT_TEXT) and folds_fit:
            shown = {i: max(widths[i], min(natural[i], TIGHT_TEXT)) for i in columns}
            _print_table(console, names, rows, columns, shown, kind, full=full)
            if hidden:
                console.print(f"[muted](narrow terminal: {', '.join(hidden)} not shown; widen it or use -o json)[/]")
        elif too_narrow == "long lines":
            widths = {i: natural[i] if kind[i] == "identifier" else min(natural[i], MIN_TEXT) for i in columns}
            _print_table(console, names, rows, columns, widths, kind, full=full)
        else:  # not even the identifiers fit: records, every column, nothing cut
            columns = [i for i in range(len(names)) if any(r[i].plain for r in rows)]
            _print_records(console, names, rows, columns, kind, full=full)
    if table.total and table.total > len(table.rows):
        console.print(f"[muted]… {table.total - len(table.rows)} more rows not shown ({table.total} in all)[/]")
    if not full and any(len(c.plain) >= MAX_CELL and c.plain.endswith("…") for r in rows for c in r):
        console.print(f"[muted](cells longer than {MAX_CELL} characters cut with …; --full or -o json: whole)[/]")


def _print_table(
    console: Console,
    names: Sequence[str],
    rows: list[list[Text]],
    columns: Sequence[int],
    widths: dict[int, int],
    kinds: dict[int, ColumnKind],
    *,
    full: bool,
) -> None:
    shown = RichTable(header_style="bold", box=None, pad_edge=False, expand=False, padding=(0, GAP // 2))
    for index in columns:
        folds = full and kinds[index] != "identifier"
        shown.add_column(names[index], width=widths[index], no_wrap=not folds, overflow="fold" if folds else "ignore")
    for row in rows:
        shown.add_row(*(row[i] if full else _shorten(row[i], widths[i], kinds[i]) for i in columns))
    print_at(console, shown, sum(widths[i] for i in columns) + GAP * (len(columns) - 1))


def _print_records(
    console: Console,
    names: Sequence[str],
    rows: list[list[Text]],
    columns: Sequence[int],
    kinds: dict[int, ColumnKind],
    *,
    full: bool,
) -> None:
    label = max(Text(names[i]).cell_len for i in columns)
    room = max(console.width - label - GAP, MIN_TEXT)
    for number, row in enumerate(rows):
        if number:
            console.print()
        for index in columns:
            name, value = Text(f"{names[index]:<{label}}", style="bold"), row[index]
            if kinds[index] == "identifier":
                # soft_wrap: longer than the line, it is wrapped by the terminal, never cut or folded here
                console.print(name + Text(" " * GAP) + value, soft_wrap=True)
            elif full:  # whole, folded beside its name
                grid = RichTable.grid(padding=(0, GAP // 2 * 2))
                grid.add_column(width=label, no_wrap=True)
                grid.add_column(overflow="fold")
                grid.add_row(name, value)
                print_at(console, grid, console.width)  # without the grid's trailing blanks
            else:
                console.print(name + Text(" " * GAP) + _shorten(value, room, kinds[index]), soft_wrap=True)
