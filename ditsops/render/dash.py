"""A Grafana dashboard on a terminal: every panel in a box, laid out like Grafana's grid.

- timeseries/graph: a braille line chart of every series with a y axis and a time axis, and
  a legend line per series (min, max, last, in the panel's unit); in a box too narrow for a
  chart, a sparkline per series.
- stat and gauge: the reduced value in big digits, coloured by the panel's thresholds; a
  gauge adds a bar from its min to its max.
- piechart: a proportional bar per series with its share in percent and its value.
- heatmap: bucket x time cells shaded by count, highest bucket on top.
- table: a row per series, label columns (renamed/hidden as the panel's `organize`
  transformation says) and the value.
- text: its Markdown as plain styled text (render/dashtext.py).
- any other type, or a panel on another data source: its note in its box (`panel type
  logs: not drawn in the terminal`, `Loki datasource: not configured`).
Rows are section titles; a collapsed row is its title alone unless `expand`. At 100
columns and more, panels that share a grid row stand side by side with widths in
proportion to their gridPos.w, never narrower than MIN_BOX (a line that would be is
wrapped onto the next); narrower, every panel takes the whole width. A panel whose query
failed shows its one-line error in its box. Pure: data and a console in, nothing read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel as Box
from rich.table import Table
from rich.text import Text

from ditsops.base.durations import to_prometheus
from ditsops.core.dashboards import GRID_COLUMNS, Panel
from ditsops.core.dashquery import DashboardData, PanelData, SeriesData, TimeRange, bucket_bound
from ditsops.core.dashunits import format_unit
from ditsops.render import charts, dashtable
from ditsops.render.cells import printable
from ditsops.render.dashtext import text_lines

WIDE = 100  # columns from which panels stand side by side
MIN_BOX = 12  # no box narrower: its border, padding and 8 columns of content
# transformations drawn as Grafana does (tables: render/dashtable.py); the others are named
APPLIED = frozenset({"organize"})
APPLIED_TO_TABLES = APPLIED | dashtable.JOINS | {"reduce"}
CHART_MIN_WIDTH = 30  # narrower boxes get sparklines instead of a chart
AXIS_WIDTH = 9
MAX_LEGEND = 8
MAX_BUCKETS = 12
MAX_ROWS = 10


def render_dashboard(console: Console, data: DashboardData, expand: bool = False) -> None:
    console.print(dashboard_view(data, expand))


def render_panel(console: Console, data: PanelData, window: TimeRange) -> None:
    """One panel in its box at the console's width (a runbook's `panel:` step)."""
    console.print(_box(data, window, console.width))


def dashboard_view(data: DashboardData, expand: bool = False) -> RenderableType:
    variables = "  ".join(f"{k}={v}" for k, v in data.variables.items())
    head = Text()
    head.append(printable(data.dashboard.title), style="title")
    head.append(f"  last {to_prometheus(data.time.since)}, step {to_prometheus(data.time.step)}")
    head.append(f"  {printable(variables)}" if variables else "", style="muted")  # label values: shown, not obeyed
    head.append(f"  {data.time.end.astimezone().strftime('%H:%M:%S')}", style="muted")
    notes = [Text("note: " + printable(note), style="muted") for note in data.notes]
    return Group(head, *notes, _Grid(data, expand))


class _Grid:
    """Each row a section title over its panels, laid out by gridPos, side by side when wide."""

    def __init__(self, data: DashboardData, expand: bool) -> None:
        self.data = data
        self.expand = expand

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for index, section in enumerate(self.data.dashboard.sections):
            items = [p for p in self.data.panels if p.panel.row == index]
            if index > 0:
                collapsed = section.collapsed and not self.expand
                count = sum(1 for p in self.data.dashboard.panels if p.row == index)
                yield _section_title(section.title, count, collapsed, width)
                if collapsed:
                    continue
            panels = sorted(items, key=lambda p: (p.panel.grid.y, p.panel.grid.x))
            if width < WIDE:
                for item in panels:
                    yield _box(item, self.data.time, width)
                continue
            for row in _rows(panels):
                for line, widths in _pack(row, width):
                    yield _side_by_side(line, widths, self.data.time)


def _section_title(title: str, count: int, collapsed: bool, width: int) -> Text:
    shown = _cut(title or "Row", max(width - 40, 8))
    line = Text("▸ " if collapsed else "▾ ", style="muted")
    line.append(shown, style="bold")
    if collapsed:
        line.append(f"  {count} panel{'s' if count != 1 else ''}, collapsed (--expand to open)", style="muted")
    rest = width - line.cell_len - 1
    if rest > 0:
        line.append(" " + "─" * rest, style="muted")
    return line


def _rows(panels: Sequence[PanelData]) -> list[list[PanelData]]:
    """Panels whose grid rows overlap the first one's make a row."""
    rows: list[list[PanelData]] = []
    bottom = -1
    for item in panels:
        grid = item.panel.grid
        if not rows or grid.y >= bottom:
            rows.append([item])
            bottom = grid.y + grid.h
        else:
            rows[-1].append(item)
            bottom = max(bottom, grid.y + grid.h)
    return rows


def _pack(row: list[PanelData], width: int) -> list[tuple[list[PanelData], list[int]]]:
    """A grid row as terminal lines: widths in proportion to gridPos.w, none below MIN_BOX
    (the widest give way first); only when even that does not fit are the panels that do
    not fit put on the next line."""
    row = sorted(row, key=lambda p: p.panel.grid.x)
    total = max(GRID_COLUMNS, sum(p.panel.grid.w for p in row))
    wanted = [min(width, max(MIN_BOX, width * p.panel.grid.w // total)) for p in row]
    while sum(wanted) > width and max(wanted) > MIN_BOX:
        wanted[wanted.index(max(wanted))] -= 1
    if sum(wanted) <= width:
        if sum(p.panel.grid.w for p in row) >= GRID_COLUMNS:  # a full row: the last takes the rounding
            wanted[-1] += width - sum(wanted)
        return [(row, wanted)]
    per_line = max(width // MIN_BOX, 1)
    return [(row[i : i + per_line], wanted[i : i + per_line]) for i in range(0, len(row), per_line)]


def _side_by_side(row: list[PanelData], widths: list[int], window: TimeRange) -> RenderableType:
    bodies = [_body(p, window, w - 4) for p, w in zip(row, widths, strict=True)]
    height = max(len(b) for b in bodies) + 2
    grid = Table.grid(padding=0)
    for w in widths:
        grid.add_column(width=w, no_wrap=True)
    grid.add_row(*(_box(p, window, w, height, body) for p, w, body in zip(row, widths, bodies, strict=True)))
    return grid


def _box(
    data: PanelData, window: TimeRange, width: int, height: int | None = None, body: list[Text] | None = None
) -> Box:
    return Box(
        Group(*(body if body is not None else _body(data, window, max(4, width - 4)))),
        title=Text(_cut(data.panel.title, max(width - 6, 1)), style="title") if data.panel.title else None,
        title_align="left",
        border_style="muted",
        width=width,
        height=height,
        padding=(0, 1),
    )


# ---------------------------------------------------------------- panel bodies


def _body(data: PanelData, window: TimeRange | None, width: int) -> list[Text]:
    if data.note:
        return _wrapped(data.note, width, "muted")
    if data.panel.type == "text":
        return text_lines(data.panel.content, width)
    if data.error:
        return _wrapped(f"✖ {data.error}", width, "error")
    applied = APPLIED_TO_TABLES if data.panel.type == "table" else APPLIED
    unapplied = [t for t in data.panel.transformations if t not in applied]
    if unapplied:
        shown = ", ".join(dict.fromkeys(unapplied))
        return [*_drawn(data, window, width), *_wrapped(f"transformations not applied: {shown}", width, "muted")]
    return _drawn(data, window, width)


def _drawn(data: PanelData, window: TimeRange | None, width: int) -> list[Text]:
    series = [s for s in data.series if s.values] if data.panel.type != "table" else list(data.series)
    if not series:
        return [Text("no data", style="muted")]
    kind = data.panel.type
    if kind in ("stat", "singlestat"):
        return _stat(data, series, width)
    if kind in ("gauge", "bargauge"):
        return _gauge(data, series, width)
    if kind == "piechart":
        return _pie(data.panel, series, width)
    if kind == "heatmap":
        return _heatmap(data.panel, series, window, width)
    if kind == "table":
        if "reduce" in data.panel.transformations:
            return dashtable.reduced(data.panel, series, width)
        if dashtable.JOINS & set(data.panel.transformations):
            return dashtable.joined(data.panel, series, width)
        return _table(data.panel, series, width)
    return _timeseries(data.panel, series, window, width)


def _wrapped(text: str, width: int, style: str) -> list[Text]:
    text = printable(text)
    return [Text(text[i : i + width], style=style) for i in range(0, len(text), max(width, 1))] or [Text("")]


def _timeseries(panel: Panel, series: list[SeriesData], window: TimeRange | None, width: int) -> list[Text]:
    shown = series[:MAX_LEGEND]
    colors = [charts.PALETTE[i % len(charts.PALETTE)] for i in range(len(shown))]
    lines: list[Text] = []
    if width >= CHART_MIN_WIDTH:
        rows = max(3, panel.grid.h - 4)
        values = [v for s in shown for v in charts.finite(s.values)]
        low = panel.min if panel.min is not None else min(values, default=0.0)
        high = panel.max if panel.max is not None else max(values, default=1.0)
        if high <= low:
            high = low + (abs(low) or 1.0)
        start, end = _span(shown, window)
        unit = shown[0].unit
        top, bottom = format_unit(high, unit), format_unit(low, unit)
        axis = min(max(len(top), len(bottom)), width // 3)
        chart_width = width - axis - 1
        chart = charts.braille_chart(
            [(s.points, c) for s, c in zip(shown, colors, strict=True)], chart_width, rows, start, end, low, high
        )
        for index, line in enumerate(chart):
            label = top if index == 0 else bottom if index == rows - 1 else ""
            lines.append(Text(label[:axis].rjust(axis) + "┤", style="muted") + line)
        lines.append(Text(" " * (axis + 1) + charts.time_axis(start, end, chart_width), style="muted"))
        lines.extend(_legend(s, c, width) for s, c in zip(shown, colors, strict=True))
    else:
        for s, color in zip(shown, colors, strict=True):
            last = format_unit(s.last, s.unit, s.decimals)
            name_width = max(4, width // 3)
            spark = charts.sparkline(s.values, max(1, width - name_width - len(last) - 2))
            lines.append(
                Text(_cut(s.name, name_width).ljust(name_width) + " ") + Text(spark, style=color) + Text(" " + last)
            )
    if len(series) > len(shown):
        lines.append(Text(f"… {len(series) - len(shown)} more series (see --output json)", style="muted"))
    return lines


def _legend(series: SeriesData, color: str, width: int) -> Text:
    """`● name  min …  max …  last …`; only `last` when the name would not fit beside all three."""
    fmt = [format_unit(v, series.unit, series.decimals) for v in (min(series.values), max(series.values), series.last)]
    stats = f"min {fmt[0]}  max {fmt[1]}  last {fmt[2]}"
    if len(series.name) + len(stats) + 4 > width:
        stats = f"last {fmt[2]}"
    line = Text("● ", style=color)
    line.append(_cut(series.name, max(4, width - len(stats) - 4)))
    line.append("  " + stats, style="muted")
    return line


def _span(series: Iterable[SeriesData], window: TimeRange | None) -> tuple[float, float]:
    if window is not None:
        return window.start.timestamp(), window.end.timestamp()
    times = [t for s in series for t, _ in s.points]
    return (min(times), max(times)) if times else (0.0, 1.0)


def _stat(data: PanelData, series: list[SeriesData], width: int) -> list[Text]:
    value = data.value
    first = series[0]
    shown = format_unit(value, first.unit, first.decimals)
    style = charts.rich_color(data.panel.color_of(value)) or "bold"
    big = charts.big_text(shown)
    lines = (
        [Text(row, style=style) for row in big]
        if big and len(big[2]) <= width
        else [Text(shown, style=f"bold {style}")]
    )
    spark = charts.sparkline(first.values, width)
    if len(first.values) > 1 and spark:
        lines.append(Text(spark, style=style))
    return lines


def _gauge(data: PanelData, series: list[SeriesData], width: int) -> list[Text]:
    lines = _stat(data, series, width)[:3]
    value, panel = data.value, data.panel
    low = panel.min if panel.min is not None else 0.0
    high = panel.max if panel.max is not None else max(100.0, value or 0.0)
    fraction = ((value or 0.0) - low) / ((high - low) or 1.0)
    style = charts.rich_color(panel.color_of(value)) or ""
    unit = series[0].unit
    lines.append(Text(charts.bar(fraction, width), style=style))
    low_text, share = format_unit(low, unit), f"{fraction * 100:.0f}% of {format_unit(high, unit)}"
    if len(low_text) + 2 + len(share) <= width:  # both ends, apart
        footer = low_text + share.rjust(width - len(low_text))
    elif len(share) <= width:  # too narrow for both: the share of the maximum alone
        footer = share
    else:
        footer = _cut(f"{fraction * 100:.0f}%", width)
    lines.append(Text(footer, style="muted"))
    return lines


def _pie(panel: Panel, series: list[SeriesData], width: int) -> list[Text]:
    values = [(s, s.reduce(panel.reducer) or 0.0) for s in series]
    total = sum(max(v, 0.0) for _, v in values if math.isfinite(v)) or 1.0
    name_width = min(max(len(s.name) for s, _ in values), max(4, width // 4))
    lines = []
    for index, (s, value) in enumerate(values):
        tail = f" {value / total * 100:5.1f}%  {format_unit(value, s.unit, s.decimals)}"
        bar_width = max(1, width - name_width - len(tail) - 1)
        color = charts.PALETTE[index % len(charts.PALETTE)]
        line = Text(_cut(s.name, name_width).ljust(name_width) + " ")
        line.append(charts.bar(max(value, 0.0) / total, bar_width), style=color)
        line.append(tail)
        lines.append(line)
    return lines


def _heatmap(panel: Panel, series: list[SeriesData], window: TimeRange | None, width: int) -> list[Text]:
    buckets = sorted(series, key=lambda s: -sum(s.values))[:MAX_BUCKETS]
    buckets.sort(key=bucket_bound, reverse=True)  # the slowest bucket on top, as Grafana draws it
    start, end = _span(buckets, window)
    columns = max(1, width - AXIS_WIDTH - 1)
    grid = [[0.0] * columns for _ in buckets]
    for row, s in enumerate(buckets):
        for t, v in s.points:
            if not math.isnan(v):
                col = min(columns - 1, max(0, int((t - start) / ((end - start) or 1.0) * columns)))
                grid[row][col] += v
    peak = max((v for row in grid for v in row), default=0.0) or 1.0
    lines = []
    for s, row in zip(buckets, grid, strict=True):
        bound = bucket_bound(s)
        label = "+Inf" if math.isinf(bound) else format_unit(bound, panel.unit)
        cells = "".join(charts.shade(v / peak) for v in row)
        lines.append(
            Text(("≤" + label)[:AXIS_WIDTH].rjust(AXIS_WIDTH) + "┤", style="muted") + Text(cells, style="dark_orange")
        )
    lines.append(Text(" " * (AXIS_WIDTH + 1) + charts.time_axis(start, end, columns), style="muted"))
    lines.append(Text(f"{charts.SHADES[1:]} up to {format_unit(peak, 'short')} per cell", style="muted"))
    return lines


def _table(panel: Panel, series: list[SeriesData], width: int) -> list[Text]:
    labels = sorted({k for s in series for k in s.labels} - {"__name__"} - panel.hidden)
    value_name = panel.renames.get("Value", "Value")
    rows = sorted(series, key=lambda s: -(s.last if s.last is not None else -math.inf))[:MAX_ROWS]
    values = [format_unit(s.last, s.unit, s.decimals) for s in rows]
    value_width = max(len(value_name), *(len(v) for v in values)) if values else len(value_name)
    label_width = max(4, (width - value_width - 2 * len(labels)) // max(len(labels), 1))
    header = Text(style="bold")
    for label in labels:
        header.append(_cut(panel.renames.get(label, label), label_width).ljust(label_width) + "  ")
    header.append(value_name.rjust(value_width))
    lines = [header]
    for s, shown in zip(rows, values, strict=True):
        line = Text()
        for label in labels:
            line.append(_cut(s.labels.get(label, ""), label_width).ljust(label_width) + "  ")
        line.append(shown.rjust(value_width), style=charts.rich_color(panel.color_of(s.last)) or "")
        lines.append(line)
    if len(series) > len(rows):
        lines.append(Text(f"… {len(series) - len(rows)} more rows", style="muted"))
    return lines


def _cut(text: str, width: int) -> str:
    text = printable(text)  # series names come from label values: shown, never obeyed
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
