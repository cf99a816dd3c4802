"""Table panels with Grafana's joining and reducing transformations applied.

- merge (and joinByField / seriesToColumns, which join on one label): the answers of a
  panel's queries become one table, a row per label set (or per value of the join label),
  a `Value #A` column per query, as Grafana names them; `organize` then renames and hides.
- reduce (series to rows): a row per series, its name under `Field` and a column per
  reducer (`Max`, `Mean`, `Last *`…).
Pure: series in, lines of text out. Cells are label values from outside: shown escaped.
"""

from __future__ import annotations

from rich.text import Text

from ditsops.core.dashboards import Panel
from ditsops.core.dashquery import SeriesData
from ditsops.core.dashunits import format_unit
from ditsops.render import charts
from ditsops.render.cells import printable

MAX_ROWS = 10
JOINS = frozenset({"merge", "joinByField", "seriesToColumns"})
# Grafana's display names of its reducers (fieldReducers in @grafana/data)
REDUCER_NAMES = {
    "lastNotNull": "Last *",
    "last": "Last",
    "firstNotNull": "First *",
    "first": "First",
    "mean": "Mean",
    "max": "Max",
    "min": "Min",
    "sum": "Total",
    "count": "Count",
    "range": "Range",
}
Cell = tuple[str, float | None]  # what is shown, and the number its colour comes from


def joined(panel: Panel, series: list[SeriesData], width: int) -> list[Text]:
    refs = list(dict.fromkeys(s.ref_id for s in series))
    value_column = {ref: (f"Value #{ref}" if len(refs) > 1 else "Value") for ref in refs}
    if panel.join_by:
        keys = [panel.join_by]
    else:
        keys = sorted({k for s in series for k in s.labels} - {"__name__"})
    rows: dict[tuple[str, ...], dict[str, Cell]] = {}
    for s in series:
        key = tuple(s.labels.get(k, "") for k in keys)
        row = rows.setdefault(key, {k: (v, None) for k, v in zip(keys, key, strict=True)})
        for label, value in s.labels.items():  # the other labels of a joined row: first one seen
            if label != "__name__":
                row.setdefault(label, (value, None))
        row[value_column[s.ref_id]] = (format_unit(s.last, s.unit, s.decimals), s.last)
    labels = sorted({k for row in rows.values() for k in row} - set(value_column.values()))
    columns = [c for c in [*labels, *value_column.values()] if c not in panel.hidden]
    return _draw(panel, columns, list(rows.values()), width)


def reduced(panel: Panel, series: list[SeriesData], width: int) -> list[Text]:
    calcs = panel.reduce_calcs or ("max",)
    names = [REDUCER_NAMES.get(c, c) for c in calcs]
    rows: list[dict[str, Cell]] = []
    for s in series:
        row: dict[str, Cell] = {"Field": (s.name, None)}
        for calc, name in zip(calcs, names, strict=True):
            value = s.reduce(calc)
            row[name] = (format_unit(value, s.unit, s.decimals), value)
        rows.append(row)
    columns = [c for c in ["Field", *names] if c not in panel.hidden]
    return _draw(panel, columns, rows, width)


def _draw(panel: Panel, columns: list[str], rows: list[dict[str, Cell]], width: int) -> list[Text]:
    if not columns:
        return [Text("every column hidden by the panel's organize transformation", style="muted")]
    shown = rows[:MAX_ROWS]
    headers = [printable(panel.renames.get(c, c)) for c in columns]
    widths = [
        max([len(header)] + [len(printable(row.get(column, ("", None))[0])) for row in shown])
        for column, header in zip(columns, headers, strict=True)
    ]
    room = max(width - 2 * (len(columns) - 1), len(columns))
    while sum(widths) > room and max(widths) > 4:
        widths[widths.index(max(widths))] -= 1
    lines = [Text("  ".join(_fit(h, w) for h, w in zip(headers, widths, strict=True)), style="bold")]
    for row in shown:
        line = Text()
        for index, (column, w) in enumerate(zip(columns, widths, strict=True)):
            text, value = row.get(column, ("", None))
            style = (charts.rich_color(panel.color_of(value)) or "") if value is not None else ""
            line.append(("  " if index else "") + _fit(printable(text), w, value is not None), style=style)
        lines.append(line)
    if len(rows) > len(shown):
        lines.append(Text(f"… {len(rows) - len(shown)} more rows", style="muted"))
    return lines


def _fit(text: str, width: int, right: bool = False) -> str:
    cut = text if len(text) <= width else text[: max(width - 1, 0)] + "…"
    return cut.rjust(width) if right else cut.ljust(width)
