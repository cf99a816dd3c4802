"""Grafana's old `rows` schema migrated, and the panel list read as sections under rows.

Legacy dashboards (schemaVersion < 16) keep panels in `rows`, each row a pixel height and
each panel a `span` of 12 columns. Grafana's DashboardMigrator.upgradeToGridLayout
(public/app/features/dashboard/state/DashboardMigrator.ts) turns them into today's grid:
a span becomes `w = span * 2` (24 columns), a height in pixels becomes grid units of
30 px + 8 px margin, at least MIN_PANEL_HEIGHT (90 px), rounded up; a panel without a span
gets DEFAULT_PANEL_SPAN (4); panels flow left to right and wrap under the row; when any
row is collapsed, repeated or shows its title, each row becomes a `type: row` panel (a
collapsed one keeping its panels inside it). Done here the same way, before parsing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ditsops.core.dashjson import JsonObject, integer, items, obj, optional_float, text

GRID_COLUMNS = 24
GRID_CELL_HEIGHT = 30
GRID_CELL_VMARGIN = 8
MIN_PANEL_HEIGHT = 90
DEFAULT_ROW_HEIGHT = 250
DEFAULT_PANEL_SPAN = 4


def grid_height(height: object) -> int:
    """A legacy pixel height (250, "250px") in grid units."""
    pixels = DEFAULT_ROW_HEIGHT
    if isinstance(height, str):
        digits = height.strip().removesuffix("px").strip()
        pixels = int(digits) if digits.isdigit() and len(digits) < 7 else DEFAULT_ROW_HEIGHT
    elif isinstance(height, (int, float)) and not isinstance(height, bool) and math.isfinite(height):
        pixels = int(min(height, 1e6))
    return math.ceil(max(pixels, MIN_PANEL_HEIGHT) / (GRID_CELL_HEIGHT + GRID_CELL_VMARGIN))


def upgrade_rows(document: JsonObject) -> list[dict[str, object]]:
    """The `panels` list Grafana makes of a legacy `rows` dashboard."""
    rows = [obj(r) for r in items(document.get("rows")) if isinstance(r, dict)]
    show_rows = any(r.get("collapse") or r.get("showTitle") or r.get("repeat") for r in rows)
    panels: list[dict[str, object]] = []
    y = 0
    next_id = 1 + max((integer(obj(p).get("id"), 0) for r in rows for p in items(r.get("panels"))), default=0)
    for row in rows:
        if row.get("repeatIteration"):
            continue  # a copy Grafana made of a repeated row when it saved: not the row itself
        height = grid_height(row.get("height"))
        collapsed = row.get("collapse") is True
        row_panel: dict[str, object] | None = None
        if show_rows:
            row_panel = {
                "id": next_id,
                "type": "row",
                "title": text(row.get("title")),
                "collapsed": collapsed,
                "repeat": row.get("repeat"),
                "panels": [],
                "gridPos": {"x": 0, "y": y, "w": GRID_COLUMNS, "h": height},
            }
            next_id += 1
            y += 1
        x = 0
        children: list[dict[str, object]] = []
        for raw in items(row.get("panels")):
            if not isinstance(raw, dict):
                continue
            span = raw.get("span")
            span_value = optional_float(span)
            span_value = DEFAULT_PANEL_SPAN if span_value is None else span_value
            width = max(1, min(GRID_COLUMNS, math.floor(min(max(span_value, 0), 12)) * GRID_COLUMNS // 12))
            panel_height = grid_height(raw["height"]) if raw.get("height") else height
            if x + width > GRID_COLUMNS:  # wrap: Grafana's RowArea moves down by the row's height
                y += height
                x = 0
            panel = {k: v for k, v in raw.items() if k != "span"}
            panel["gridPos"] = {"x": x, "y": y, "w": width, "h": panel_height}
            x += width
            children.append(panel)
        if row_panel is not None and collapsed:
            row_panel["panels"] = children
            panels.append(row_panel)
        else:
            if row_panel is not None:
                panels.append(row_panel)
            panels.extend(children)
            y += height
    return panels


@dataclass(frozen=True)
class Section:
    """A row of the dashboard: its title, whether it is collapsed, the variable it repeats on."""

    title: str = ""
    collapsed: bool = False
    repeat: str = ""


def sections(panels: Sequence[object]) -> tuple[list[Section], list[tuple[JsonObject, int]]]:
    """Rows in reading order and every panel with the index of the row it sits under (0: above
    every row). A collapsed row's panels are inside it with stale positions: they are read in
    their own order under it, never mixed into another row."""
    # Copies Grafana made of a repeated panel when it saved (repeatPanelId) are dropped, as
    # Grafana drops them on load: the repeat is expanded again from its variable.
    top = [(index, obj(p)) for index, p in enumerate(panels) if isinstance(p, dict) and "repeatPanelId" not in p]
    top.sort(key=lambda item: (_y(item[1]), _x(item[1]), item[0]))
    found = [Section()]
    out: list[tuple[JsonObject, int]] = []
    for _, panel in top:
        if panel.get("type") == "row":
            found.append(Section(text(panel.get("title")), panel.get("collapsed") is True, text(panel.get("repeat"))))
            children = [obj(c) for c in items(panel.get("panels")) if isinstance(c, dict)]
            children.sort(key=lambda c: (_y(c), _x(c)))
            out.extend((c, len(found) - 1) for c in children if c.get("type") != "row" and "repeatPanelId" not in c)
        else:
            out.append((panel, len(found) - 1))
    return found, out


def _y(panel: JsonObject) -> int:
    return integer(obj(panel.get("gridPos")).get("y"), 0)


def _x(panel: JsonObject) -> int:
    return integer(obj(panel.get("gridPos")).get("x"), 0)


def with_library_panels(panels: Sequence[object], elements: JsonObject) -> list[object]:
    """Library panels filled in from the export's `__elements` (Grafana 8.3+ exports a library
    panel as a reference: `libraryPanel: {uid, name}`, its model in `__elements[uid].model`);
    the reference keeps its own place (gridPos) and id."""
    out: list[object] = []
    for raw in panels:
        panel = obj(raw)
        model = obj(obj(elements.get(text(obj(panel.get("libraryPanel")).get("uid")))).get("model"))
        if model:
            raw = {**model, **{k: v for k, v in panel.items() if k in ("gridPos", "id", "libraryPanel")}}
        elif panel.get("type") == "row" and isinstance(panel.get("panels"), list):
            raw = {**panel, "panels": with_library_panels(items(panel.get("panels")), elements)}
        out.append(raw)
    return out
