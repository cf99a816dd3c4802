"""Grafana dashboard JSON -> typed, frozen models: panels, targets, units, thresholds, variables.

Reads what `ditsops dash` and the runbooks' `panel:` steps need from a dashboard as Grafana
exports it (the shipped ones live in dashboards/, inside the wheel as ditsops/dashboards):
panels with their gridPos, PromQL targets, `fieldConfig` units, decimals, min/max,
threshold steps and per-series unit overrides, the reduce calculation of stat, gauge and
piechart panels, table transformations that rename or hide columns, and the template
variables, rows as sections (core/dashlegacy.py: the legacy `rows` schema migrated as
Grafana's importer does), repeat settings and text panels' content. Every panel is kept:
one of a type ditsops does not draw, or on a data source other than Prometheus, carries
a note saying so instead of queries. Everything else Grafana stores is ignored. A file
that is not a dashboard is one line: what is wrong and where.

Bounds (hostile files): at most MAX_PANELS panels, MAX_TARGETS queries each, geometry
clamped to the 24-column grid and MAX_PANEL_HEIGHT rows, texts cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from ditsops.base.errors import UsageError
from ditsops.core.dashfields import Override, ThresholdStep, organize, overrides, thresholds
from ditsops.core.dashformat import VarValue
from ditsops.core.dashjson import (
    JsonObject,
    clamp,
    decimals,
    integer,
    items,
    obj,
    optional_float,
    text,
)
from ditsops.core.dashlegacy import GRID_COLUMNS, Section, sections, upgrade_rows, with_library_panels
from ditsops.core.dashsource import MIXED, PROMETHEUS, Sources, not_configured
from ditsops.core.dashvars import Variable
from ditsops.core.safefile import FileProblem, read_text

__all__ = ["GRID_COLUMNS", "Dashboard", "Override", "Panel", "Section", "Target", "ThresholdStep", "Variable"]
SHIPPED = ("overview", "storage", "database")
MAX_DASHBOARD_BYTES = 4 << 20  # exported dashboards are tens of kilobytes
MAX_PANELS = 500  # Node Exporter Full, among the largest, has about 130
MAX_TARGETS = 26  # refIds A..Z
MAX_VARIABLES = 200
MAX_PANEL_HEIGHT = 60  # grid rows; a taller box is a screenful of nothing
MAX_GRID_Y = 100_000
MAX_EXPR = 20_000
MAX_TEXT = 20_000
_PACKAGE = Path(__file__).resolve().parent.parent
# Types drawn in the terminal (render/dash.py); every other type says it is not drawn.
DRAWN = frozenset({"timeseries", "graph", "stat", "singlestat", "gauge", "bargauge", "piechart", "heatmap"})
DRAWN = DRAWN | {"table", "table-old", "text"}
# singlestat's valueName as today's reduce calculation
LEGACY_REDUCERS = {"current": "lastNotNull", "avg": "mean", "total": "sum", "max": "max", "min": "min"}
JOINS = ("joinByField", "seriesToColumns")
ALIASES = {"grafana-piechart-panel": "piechart", "grafana-singlestat-panel": "singlestat", "table-old": "table"}


class DashboardError(UsageError):
    """A dashboard that cannot be found or read (exit 2)."""


@dataclass(frozen=True)
class GridPos:
    x: int = 0
    y: int = 0
    w: int = 12
    h: int = 8


@dataclass(frozen=True)
class Target:
    ref_id: str
    expr: str
    legend: str = ""
    instant: bool = False
    format: str = "time_series"  # time_series | table | heatmap


@dataclass(frozen=True)
class Panel:
    id: int
    title: str
    type: str
    grid: GridPos
    targets: tuple[Target, ...]
    description: str = ""
    unit: str = "short"
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    thresholds: tuple[ThresholdStep, ...] = ()
    overrides: tuple[Override, ...] = ()
    reducer: str = "lastNotNull"  # reduceOptions.calcs[0] of stat, gauge, piechart
    interval: str | None = None  # the panel's minimum step ("Min interval")
    renames: Mapping[str, str] = field(default_factory=dict)  # table columns: label -> shown name
    hidden: frozenset[str] = frozenset()  # table columns left out
    row: int = 0  # index into Dashboard.sections
    note: str | None = None  # why it is not queried: a type not drawn, another data source
    repeat: str = ""  # the variable it is repeated for
    repeat_direction: str = "h"
    max_per_row: int = 4
    content: str = ""  # a text panel's Markdown (or HTML)
    transformations: tuple[str, ...] = ()  # ids, in order
    join_by: str = ""  # joinByField / seriesToColumns: the label rows are joined on
    reduce_calcs: tuple[str, ...] = ()  # the reduce transformation's reducers
    scoped: Mapping[str, str | VarValue] = field(default_factory=dict)  # a repeat's own value of its variable

    def unit_of(self, series_name: str) -> str:
        for override in self.overrides:
            if override.name == series_name and override.unit:
                return override.unit
        return self.unit

    def decimals_of(self, series_name: str) -> int | None:
        for override in self.overrides:
            if override.name == series_name and override.decimals is not None:
                return override.decimals
        return self.decimals

    def color_of(self, value: float | None) -> str | None:
        """The threshold colour for `value` (Grafana's: the last step at or below it)."""
        if value is None or value != value or not self.thresholds:
            return None
        chosen = self.thresholds[0].color
        for step in self.thresholds:
            if step.value is None or value >= step.value:
                chosen = step.color
        return chosen


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    source: str = ""
    sections: tuple[Section, ...] = (Section(),)

    def panel(self, title: str) -> Panel:
        for panel in self.panels:
            if panel.title == title:
                return panel
        titles = ", ".join(repr(p.title) for p in self.panels)
        raise DashboardError(f"dashboard {self.title!r} has no panel {title!r} (panels: {titles})")


# ---------------------------------------------------------------- finding and loading


def shipped_dir() -> Path:
    """Inside an installed wheel dashboards sit in the package; in a checkout, beside it."""
    installed = _PACKAGE / "dashboards"
    return installed if installed.is_dir() else _PACKAGE.parent / "dashboards"


def find(name_or_path: str) -> Path:
    """A shipped dashboard by name (overview, storage, database) or a JSON file by path."""
    if name_or_path in SHIPPED:
        return shipped_dir() / f"{name_or_path}.json"
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() != ".json" and not path.exists():
        raise DashboardError(
            f"no dashboard {name_or_path!r}: give {', '.join(SHIPPED)} or the path of a Grafana dashboard .json"
        )
    return path


def load(name_or_path: str) -> Dashboard:
    path = find(name_or_path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as error:
        raise DashboardError(f"{path}: cannot read the dashboard: {error.strerror or error}") from None
    return _load_cached(str(path), stamp)


@lru_cache(maxsize=16)
def _load_cached(path: str, stamp: int) -> Dashboard:
    try:
        found = read_text(Path(path), limit=MAX_DASHBOARD_BYTES)
    except FileProblem as error:
        raise DashboardError(f"{path}: {error}") from None
    try:
        document = json.loads(found.text)
    except json.JSONDecodeError as error:
        raise DashboardError(f"{path}:{error.lineno}: not JSON: {error.msg}") from None
    except RecursionError:
        raise DashboardError(f"{path}: not a dashboard (nested too deeply)") from None
    return parse(document, path)


def parse(document: object, source: str = "<dashboard>") -> Dashboard:
    """A Grafana dashboard export (or the `dashboard` member of an API answer) as a model."""
    if isinstance(document, dict) and isinstance(document.get("dashboard"), dict):
        document = document["dashboard"]
    if not isinstance(document, dict):
        raise DashboardError(f"{source}: not a Grafana dashboard (expected an object with a 'panels' list)")
    raw_panels = document.get("panels")
    if not isinstance(raw_panels, list):
        if not isinstance(document.get("rows"), list):
            raise DashboardError(f"{source}: not a Grafana dashboard (expected an object with a 'panels' list)")
        raw_panels = upgrade_rows(document)  # the legacy schema, migrated as Grafana's importer does
    rows, placed = sections(with_library_panels(raw_panels, obj(document.get("__elements"))))
    if len(placed) > MAX_PANELS:
        raise DashboardError(f"{source}: {len(placed)} panels; ditsops draws at most {MAX_PANELS}")
    templating = obj(document.get("templating"))
    raw_variables = [obj(v) for v in items(templating.get("list")) if isinstance(v, dict)][:MAX_VARIABLES]
    inputs = {text(i.get("name")): text(i.get("pluginId")) for i in map(obj, items(document.get("__inputs")))}
    kinds = {text(v.get("name")): text(v.get("query")) for v in raw_variables if v.get("type") == "datasource"}
    found = Sources(kinds, inputs)
    panels = _shared([_panel(raw, index, row, found) for index, (raw, row) in enumerate(placed)], placed)
    variables = tuple(_variable(raw, found) for raw in raw_variables)
    return Dashboard(
        uid=text(document.get("uid")),
        title=text(document.get("title")) or Path(source).stem,
        panels=tuple(panels),
        variables=tuple(v for v in variables if v.name),
        source=source,
        sections=tuple(rows),
    )


def _shared(panels: list[Panel], placed: list[tuple[JsonObject, int]]) -> list[Panel]:
    """A panel on the `-- Dashboard --` data source shows another panel's queries (its
    target's panelId): it gets that panel's targets, or its note."""
    by_id = {p.id: p for p in panels if p.note != not_configured("dashboard")}
    out = []
    for panel, (raw, _) in zip(panels, placed, strict=True):
        source = by_id.get(integer(obj(next(iter(items(raw.get("targets"))), None)).get("panelId"), -1))
        if panel.note == not_configured("dashboard") and source is not None:
            panel = replace(panel, targets=source.targets, note=source.note)
        out.append(panel)
    return out


def _panel(raw: JsonObject, index: int, row: int, found: Sources) -> Panel:
    kind = text(raw.get("type")) or "timeseries"
    kind = ALIASES.get(kind, kind)
    title = text(raw.get("title"))
    grid = obj(raw.get("gridPos"))
    field_config = obj(raw.get("fieldConfig"))
    defaults = obj(field_config.get("defaults"))
    options = obj(raw.get("options"))
    axis_unit = text(obj(options.get("yAxis")).get("unit"))
    # A heatmap's unit is its buckets' (the y axis); its cells are counts.
    unit = (axis_unit if kind == "heatmap" else "") or text(defaults.get("unit")) or axis_unit
    unit = unit or _legacy_unit(raw) or "short"
    panel_source = found.kind(raw.get("datasource"))
    targets, target_notes = _targets(raw, panel_source, found)
    note = None
    library = obj(raw.get("libraryPanel"))
    if library and not raw.get("targets") and not raw.get("type"):
        note = f"library panel {text(library.get('name')) or text(library.get('uid'))}: not in this file"
    elif kind not in DRAWN:
        note = f"panel type {kind}: not drawn in the terminal"
    elif kind != "text" and panel_source not in (PROMETHEUS, MIXED):
        note = not_configured(panel_source)
    elif kind != "text" and not targets and target_notes:
        note = target_notes[0]
    elif kind != "text" and not targets and items(raw.get("targets")):
        note = "no PromQL query in this panel (its queries are for another data source)"
    calcs = items(obj(options.get("reduceOptions")).get("calcs"))
    transformations = [obj(t) for t in items(raw.get("transformations")) if isinstance(t, dict)]
    renames, hidden = organize(transformations)
    return Panel(
        id=integer(raw.get("id"), index + 1),
        title=title,
        type=kind,
        grid=GridPos(
            x=clamp(integer(grid.get("x"), 0), 0, GRID_COLUMNS - 1),
            y=clamp(integer(grid.get("y"), index * 8), 0, MAX_GRID_Y),
            w=clamp(integer(grid.get("w"), 12), 1, GRID_COLUMNS),
            h=clamp(integer(grid.get("h"), 8), 1, MAX_PANEL_HEIGHT),
        ),
        targets=targets,
        description=text(raw.get("description")),
        unit=unit,
        decimals=decimals(defaults.get("decimals")),
        min=optional_float(defaults.get("min")),
        max=optional_float(defaults.get("max")),
        thresholds=thresholds(obj(defaults.get("thresholds"))),
        overrides=overrides(items(field_config.get("overrides"))),
        reducer=text(calcs[0]) if calcs else LEGACY_REDUCERS.get(text(raw.get("valueName")), "lastNotNull"),
        interval=text(raw.get("interval")) or None,
        renames=renames,
        hidden=hidden,
        row=row,
        note=note,
        repeat=text(raw.get("repeat")),
        repeat_direction="v" if raw.get("repeatDirection") == "v" else "h",
        max_per_row=clamp(integer(raw.get("maxPerRow"), 4), 1, GRID_COLUMNS),
        content=_content(raw, options)[:MAX_TEXT],
        transformations=tuple(text(t.get("id")) for t in transformations if t.get("disabled") is not True),
        join_by=next((text(obj(t.get("options")).get("byField")) for t in transformations if t.get("id") in JOINS), ""),
        reduce_calcs=next(
            (
                tuple(map(text, items(obj(t.get("options")).get("reducers"))))[:8]
                for t in transformations
                if t.get("id") == "reduce"
            ),
            (),
        ),
    )


def _legacy_unit(raw: JsonObject) -> str:
    """graph and singlestat panels of old dashboards keep their unit in yaxes[0].format / format."""
    axes = items(raw.get("yaxes"))
    if axes:
        return text(obj(axes[0]).get("format"))
    return text(raw.get("format")) if raw.get("type") == "singlestat" else ""


def _content(raw: JsonObject, options: JsonObject) -> str:
    return text(options.get("content")) or text(raw.get("content"))


def _targets(raw: JsonObject, panel_source: str, found: Sources) -> tuple[tuple[Target, ...], list[str]]:
    """The panel's PromQL targets; a target on another data source (a mixed panel's Loki
    query) is left out, and what was left out is said."""
    kept: list[Target] = []
    notes: list[str] = []
    for number, t in enumerate(x for x in map(obj, items(raw.get("targets"))[:MAX_TARGETS]) if x):
        if t.get("hide") is True:
            continue
        kind = found.kind(t["datasource"]) if t.get("datasource") is not None else panel_source
        if kind == MIXED:
            kind = PROMETHEUS
        if kind != PROMETHEUS:
            notes.append(not_configured(kind))
            continue
        expr = text(t.get("expr"))
        if not expr:
            continue
        kept.append(
            Target(
                ref_id=text(t.get("refId")) or chr(ord("A") + number % 26),
                expr=expr[:MAX_EXPR],
                legend=text(t.get("legendFormat")),
                instant=t.get("instant") is True and t.get("range") is not True,
                format=text(t.get("format")) or "time_series",
            )
        )
    return tuple(kept), notes


def _variable(raw: JsonObject, found: Sources) -> Variable:
    query = raw.get("query")
    query_text = text(obj(query).get("query")) if isinstance(query, dict) else text(query)
    kind = text(raw.get("type")) or "query"
    if kind == "query" and not query_text:
        query_text = text(raw.get("definition"))
    current = obj(raw.get("current")).get("value")
    chosen = tuple(text(c) for c in current) if isinstance(current, list) else (text(current),) if current else ()
    options = tuple(
        (text(o.get("text")) or text(o.get("value")), text(o.get("value")))
        for o in map(obj, items(raw.get("options"))[:1000])
        if text(o.get("value"))
    )
    all_value = raw.get("allValue")
    return Variable(
        name=text(raw.get("name"))[:200],
        type=kind,
        query=query_text[:MAX_EXPR],
        current=chosen[:1000],
        options=options,
        label=text(raw.get("label")),
        multi=raw.get("multi") is True,
        include_all=raw.get("includeAll") is True,
        all_value=text(all_value) if isinstance(all_value, str) and all_value != "" else None,
        regex=text(raw.get("regex"))[:2000],
        sort=clamp(integer(raw.get("sort"), 0), 0, 8),
        refresh=integer(raw.get("refresh"), 1),
        source=found.kind(raw.get("datasource")) if kind == "query" else PROMETHEUS,
        auto=raw.get("auto") is True,
        auto_count=clamp(integer(raw.get("auto_count"), 30), 1, 10000),
        auto_min=text(raw.get("auto_min")) or "10s",
        filters=len(items(raw.get("filters"))),
    )
