"""A core Table as a rich table; long text columns are cut to fit unless --full."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from ditsops.core.results import Table
from ditsops.render.cells import cell, cut

# Columns that hold free text and should take whatever width is left.
WIDE = {"query", "message", "summary", "result"}


def render_table(console: Console, table: Table, *, full: bool = False, title: str | None = None) -> None:
    if not table.rows:
        return  # the step's summary already says there is nothing
    shown = RichTable(title=title or table.title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    widths = [len(c) for c in table.columns]
    rows = [[cell(v) for v in row] for row in table.rows]
    for row in rows:
        widths = [max(w, len(text)) for w, text in zip(widths, (r if c not in WIDE else "" for c, r in zip(table.columns, row)))]
    for name in table.columns:
        shown.add_column(name, overflow="fold" if full else "ellipsis", no_wrap=not full, max_width=None)
    budget = max(console.width - sum(w + 1 for c, w in zip(table.columns, widths) if c not in WIDE) - 1, 20)
    for row in rows:
        texts = []
        for name, text in zip(table.columns, row):
            if name in WIDE and not full:
                text = cut(text, budget)
            texts.append(Text(text))
        shown.add_row(*texts)
    console.print(shown)
    if table.total and table.total > len(table.rows):
        console.print(f"[muted]… {table.total - len(table.rows)} more rows not shown ({table.total} in all)[/]")
