"""Grafana dashboard JSON -> typed, frozen models: panels, targets, units, thresholds, variables.

Reads what `ditsops dash` and the runbooks' `panel:` steps need from a dashboard as Grafana
exports it (the shipped ones live in dashboards/, inside the wheel as ditsops/dashboards):
panels with their gridPos, PromQL targets, `fieldConfig` units, decimals, min/max,
threshold steps and per-series unit overrides, the reduce calculation of stat, gauge and
piechart panels, table transformations that rename or hide columns, and the template
variables. Collapsed rows keep their panels inside the row; they are flattened here.
Everything else Grafana stores is ignored. A file that is not a dashboard is one line:
what is wrong and where.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import cast

from ditsops.core.errors import UsageError
from ditsops.core.safefile import FileProblem, read_text

JsonObject = Mapping[str, object]
SHIPPED = ("overview", "storage", "database")
MAX_DASHBOARD_BYTES = 4 << 20  # exported dashboards are tens of kilobytes
_PACKAGE = Path(__file__).resolve().parent.parent
GRID_COLUMNS = 24


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
class ThresholdStep:
    color: str
    value: float | None  # None: the base colour, below every other step


@dataclass(frozen=True)
class Override:
    """fieldConfig.overrides entry matching a series by its display name."""

    name: str
    unit: str | None = None
    decimals: int | None = None


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
class Variable:
    name: str
    type: str  # query | custom | constant | interval | textbox | datasource
    query: str = ""
    current: str | None = None
    options: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    source: str = ""

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
    if not isinstance(document, dict) or not isinstance(document.get("panels"), list):
        raise DashboardError(f"{source}: not a Grafana dashboard (expected an object with a 'panels' list)")
    panels = [_panel(raw, index, source) for index, raw in enumerate(_flatten(document["panels"]))]
    templating = _object(document.get("templating"))
    variables = tuple(_variable(raw) for raw in _list(templating.get("list")) if isinstance(raw, dict))
    return Dashboard(
        uid=_text(document.get("uid")),
        title=_text(document.get("title")) or Path(source).stem,
        panels=tuple(p for p in panels if p is not None),
        variables=tuple(v for v in variables if v.name),
        source=source,
    )


def _flatten(panels: list[object]) -> list[JsonObject]:
    """Panels in reading order, the panels of collapsed rows included, rows themselves left out."""
    out: list[JsonObject] = []
    for raw in panels:
        if not isinstance(raw, dict):
            continue
        if raw.get("type") == "row":
            out.extend(_flatten(_list(raw.get("panels"))))
        else:
            out.append(raw)
    return out


def _panel(raw: JsonObject, index: int, source: str) -> Panel | None:
    kind = _text(raw.get("type")) or "timeseries"
    title = _text(raw.get("title")) or f"Panel {index + 1}"
    grid = _object(raw.get("gridPos"))
    field_config = _object(raw.get("fieldConfig"))
    defaults = _object(field_config.get("defaults"))
    options = _object(raw.get("options"))
    axis_unit = _text(_object(options.get("yAxis")).get("unit"))
    # A heatmap's unit is its buckets' (the y axis); its cells are counts.
    unit = (axis_unit if kind == "heatmap" else "") or _text(defaults.get("unit")) or axis_unit or "short"
    targets = tuple(
        Target(
            ref_id=_text(t.get("refId")) or chr(ord("A") + number),
            expr=_text(t.get("expr")),
            legend=_text(t.get("legendFormat")),
            instant=t.get("instant") is True and t.get("range") is not True,
            format=_text(t.get("format")) or "time_series",
        )
        for number, t in enumerate(x for x in _list(raw.get("targets")) if isinstance(x, dict))
        if _text(t.get("expr")) and t.get("hide") is not True
    )
    calcs = _list(_object(options.get("reduceOptions")).get("calcs"))
    renames, hidden = _organize(_list(raw.get("transformations")))
    return Panel(
        id=_int(raw.get("id"), index + 1),
        title=title,
        type=kind,
        grid=GridPos(
            x=_int(grid.get("x"), 0),
            y=_int(grid.get("y"), index * 8),
            w=_int(grid.get("w"), 12),
            h=_int(grid.get("h"), 8),
        ),
        targets=targets,
        description=_text(raw.get("description")),
        unit=unit,
        decimals=_optional_int(defaults.get("decimals")),
        min=_optional_float(defaults.get("min")),
        max=_optional_float(defaults.get("max")),
        thresholds=_thresholds(_object(defaults.get("thresholds"))),
        overrides=_overrides(_list(field_config.get("overrides"))),
        reducer=_text(calcs[0]) if calcs else "lastNotNull",
        interval=_text(raw.get("interval")) or None,
        renames=renames,
        hidden=hidden,
    )


def _thresholds(raw: JsonObject) -> tuple[ThresholdStep, ...]:
    steps = [s for s in _list(raw.get("steps")) if isinstance(s, dict)]
    return tuple(ThresholdStep(_text(s.get("color")) or "green", _optional_float(s.get("value"))) for s in steps)


def _overrides(raw: list[object]) -> tuple[Override, ...]:
    found = []
    for item in raw:
        entry = _object(item)
        matcher = _object(entry.get("matcher"))
        if matcher.get("id") != "byName":
            continue
        properties = {_text(p.get("id")): p.get("value") for p in _list(entry.get("properties")) if isinstance(p, dict)}
        found.append(
            Override(
                name=_text(matcher.get("options")),
                unit=_text(properties.get("unit")) or None,
                decimals=_optional_int(properties.get("decimals")),
            )
        )
    return tuple(found)


def _organize(transformations: list[object]) -> tuple[dict[str, str], frozenset[str]]:
    renames: dict[str, str] = {}
    hidden: set[str] = set()
    for item in transformations:
        entry = _object(item)
        if entry.get("id") != "organize":
            continue
        options = _object(entry.get("options"))
        renames.update({k: _text(v) for k, v in _object(options.get("renameByName")).items() if _text(v)})
        hidden.update(k for k, v in _object(options.get("excludeByName")).items() if v is True)
    return renames, frozenset(hidden)


def _variable(raw: JsonObject) -> Variable:
    query = raw.get("query")
    text = _text(_object(query).get("query")) if isinstance(query, dict) else _text(query)
    current = _object(raw.get("current")).get("value")
    if isinstance(current, list):  # a multi-value variable: the first value stands for it
        current = current[0] if current else None
    options = tuple(_text(_object(o).get("value")) for o in _list(raw.get("options")) if _text(_object(o).get("value")))
    if not options and raw.get("type") in ("custom", "interval") and text:
        options = tuple(part.strip() for part in text.split(",") if part.strip())
    return Variable(
        name=_text(raw.get("name")),
        type=_text(raw.get("type")) or "query",
        query=text,
        current=_text(current) or None,
        options=options,
        label=_text(raw.get("label")),
    )


# ---------------------------------------------------------------- tolerant JSON readers


def _object(value: object) -> JsonObject:
    return cast(JsonObject, value) if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None or isinstance(value, (dict, list)) else str(value)


def _int(value: object, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _optional_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
