"""Repeated panels and rows expanded per value, and every title's variables filled in.

grafana.com/docs/grafana/latest/panels-visualizations/configure-panel-options/#configure-repeating-panels
and Grafana's DashboardModel.repeatPanel / repeatRow: a panel with `repeat: var` is drawn
once per selected value of `var` (every option when All is chosen), each copy with that
one value bound. `repeatDirection: h` lays the copies side by side, `w = max(24 / count,
24 / maxPerRow)` (maxPerRow default 4), wrapping under; `v` stacks them at the panel's
own width; the panels below are pushed down by the rows the copies added. A row with
`repeat: var` is copied with all its panels per value. Titles show
the value's text (`Producer ($instance)` -> `Producer (10.0.0.1:9100)`).

Bounded: at most MAX_COPIES copies of one panel or row and MAX_EXPANDED panels in all;
what is left out is said in a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ditsops.core.dashboards import GRID_COLUMNS, Dashboard, GridPos, Panel, Section
from ditsops.core.dashformat import Value, VarValue, plain

MAX_COPIES = 64
MAX_EXPANDED = 1000


def _values(value: Value | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value.values)


def _one(value: Value, chosen: str) -> Value:
    return VarValue((chosen,), multi=value.multi) if isinstance(value, VarValue) else chosen


def expand(dashboard: Dashboard, variables: Mapping[str, Value]) -> tuple[Dashboard, list[str]]:
    notes: list[str] = []
    sections: list[Section] = []
    panels: list[Panel] = []
    for index, section in enumerate(dashboard.sections):
        children = [p for p in dashboard.panels if p.row == index]
        copies: list[Mapping[str, Value]] = [{}]
        if section.repeat and section.repeat in variables:
            chosen = _values(variables[section.repeat])
            if len(chosen) > MAX_COPIES:
                notes.append(f"row {section.title!r}: {len(chosen)} repeats, the first {MAX_COPIES} drawn")
            copies = [{section.repeat: _one(variables[section.repeat], v)} for v in chosen[:MAX_COPIES]] or [{}]
        for scope in copies:
            title = plain(section.title, {**variables, **scope})
            sections.append(Section(title, section.collapsed, section.repeat))
            row = len(sections) - 1
            pushed: list[tuple[int, int]] = []  # (from this y down, by so many rows)
            for panel in sorted(children, key=lambda p: (p.grid.y, p.grid.x)):
                shift = sum(extra for start, extra in pushed if panel.grid.y >= start)
                moved = replace(panel, grid=replace(panel.grid, y=panel.grid.y + shift)) if shift else panel
                copies_of = _panel_copies(moved, row, {**panel.scoped, **scope}, variables, notes)
                # Grafana pushes the panels below a repeat down by the rows its copies added
                extra = max(c.grid.y + c.grid.h for c in copies_of) - (moved.grid.y + moved.grid.h)
                if extra > 0:
                    pushed.append((panel.grid.y + panel.grid.h, extra))
                panels.extend(copies_of)
    if len(panels) > MAX_EXPANDED:
        notes.append(f"{len(panels)} panels once repeated; the first {MAX_EXPANDED} drawn")
        panels = panels[:MAX_EXPANDED]
    return replace(dashboard, panels=tuple(panels), sections=tuple(sections)), notes


def _panel_copies(
    panel: Panel, row: int, scope: Mapping[str, Value], variables: Mapping[str, Value], notes: list[str]
) -> list[Panel]:
    name = panel.repeat
    if not name or name not in variables or name in scope:
        return [_titled(panel, row, scope, variables, panel.grid)]
    chosen = _values(variables[name])
    if len(chosen) > MAX_COPIES:
        notes.append(f"panel {panel.title!r}: {len(chosen)} repeats, the first {MAX_COPIES} drawn")
        chosen = chosen[:MAX_COPIES]
    if not chosen:
        return [_titled(panel, row, scope, variables, panel.grid)]
    grid = panel.grid
    copies = []
    if panel.repeat_direction == "v":
        for number, value in enumerate(chosen):
            place = GridPos(grid.x, grid.y + number * grid.h, grid.w, grid.h)
            copies.append(_titled(panel, row, {**scope, name: _one(variables[name], value)}, variables, place))
        return copies
    width = max(GRID_COLUMNS // len(chosen), GRID_COLUMNS // max(panel.max_per_row, 1), 1)
    per_row = max(GRID_COLUMNS // width, 1)
    for number, value in enumerate(chosen):
        place = GridPos((number % per_row) * width, grid.y + (number // per_row) * grid.h, width, grid.h)
        copies.append(_titled(panel, row, {**scope, name: _one(variables[name], value)}, variables, place))
    return copies


def _titled(panel: Panel, row: int, scope: Mapping[str, Value], variables: Mapping[str, Value], grid: GridPos) -> Panel:
    title = plain(panel.title, {**variables, **scope})
    return replace(panel, title=title, row=row, grid=grid, scoped=dict(scope))
