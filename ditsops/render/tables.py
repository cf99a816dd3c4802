"""A core Table as a rich table: short columns keep their width, free-text columns take
what is left and are cut with an ellipsis unless --full."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from ditsops.core.results import Table
from ditsops.render.cells import cell, cut

# Columns that hold free text and should take whatever width is left.
WIDE = {"query", "message", "summary", "result", "title", "description", "comment", "labels", "before", "after"}
NARROW_CAP = 40  # a short column never claims more than this
MIN_WIDE = 24  # below this a query column tells nothing
# Dropped first, in this order, when the terminal is too narrow for every column.
EXPENDABLE = ("database", "client", "user", "application")


def render_table(
    console: Console,
    table: Table,
    *,
    full: bool = False,
    title: str | None = None,
    styles: dict[str, dict[str, str]] | None = None,
    expendable: tuple[str, ...] = EXPENDABLE,
) -> None:
    """styles: column -> cell text -> rich style, e.g. {"state": {"firing": "failing"}}."""
    if not table.rows:
        return  # the step's summary already says there is nothing
    rows = [[cell(v) for v in row] for row in table.rows]
    columns = [i for i, name in enumerate(table.columns) if any(r[i] for r in rows)]  # all-empty columns say nothing
    widths = {i: min(max([len(table.columns[i]), *(len(r[i]) for r in rows)]), NARROW_CAP) for i in columns}
    hidden = []

    def needed() -> int:
        return sum(MIN_WIDE if table.columns[i] in WIDE else widths[i] for i in columns) + 2 * (len(columns) - 1)

    for name in expendable:
        if needed() <= console.width or full:
            break
        if name in table.columns and table.columns.index(name) in columns:
            columns.remove(table.columns.index(name))
            hidden.append(name)
    shown = RichTable(
        title=title or table.title, title_justify="left", header_style="bold", box=None, pad_edge=False, expand=False
    )
    wide = [i for i in columns if table.columns[i] in WIDE]
    # Cut free text ourselves: rich squeezes other columns to nothing rather than cut a no-wrap one.
    budget = max((console.width - needed() + MIN_WIDE * len(wide)) // max(len(wide), 1), MIN_WIDE)
    for index in columns:
        name = table.columns[index]
        if name in WIDE:
            shown.add_column(name, overflow="fold")
        else:
            shown.add_column(name, min_width=widths[index], overflow="ellipsis", no_wrap=True)
    for row in rows:
        shown.add_row(
            *(
                Text(
                    row[i] if full or i not in wide else cut(row[i], budget),
                    style=(styles or {}).get(table.columns[i], {}).get(row[i], ""),
                )
                for i in columns
            )
        )
    console.print(shown)
    if hidden:
        console.print(f"[muted](narrow terminal: {', '.join(hidden)} not shown; widen it or use --output json)[/]")
    if table.total and table.total > len(table.rows):
        console.print(f"[muted]… {table.total - len(table.rows)} more rows not shown ({table.total} in all)[/]")
