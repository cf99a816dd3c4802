"""fieldConfig and transformations of a Grafana panel: thresholds, per-series overrides, organize."""

from __future__ import annotations

from dataclasses import dataclass

from ditsops.core.dashjson import JsonObject, decimals, items, obj, optional_float, text


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


def thresholds(raw: JsonObject) -> tuple[ThresholdStep, ...]:
    steps = [s for s in items(raw.get("steps")) if isinstance(s, dict)]
    return tuple(ThresholdStep(text(s.get("color")) or "green", optional_float(s.get("value"))) for s in steps)


def overrides(raw: list[object]) -> tuple[Override, ...]:
    found = []
    for item in raw:
        entry = obj(item)
        matcher = obj(entry.get("matcher"))
        if matcher.get("id") != "byName":
            continue
        properties = {text(p.get("id")): p.get("value") for p in items(entry.get("properties")) if isinstance(p, dict)}
        found.append(
            Override(
                name=text(matcher.get("options")),
                unit=text(properties.get("unit")) or None,
                decimals=decimals(properties.get("decimals")),
            )
        )
    return tuple(found)


def organize(transformations: list[JsonObject]) -> tuple[dict[str, str], frozenset[str]]:
    renames: dict[str, str] = {}
    hidden: set[str] = set()
    for item in transformations:
        entry = obj(item)
        if entry.get("id") != "organize":
            continue
        options = obj(entry.get("options"))
        renames.update({k: text(v) for k, v in obj(options.get("renameByName")).items() if text(v)})
        hidden.update(k for k, v in obj(options.get("excludeByName")).items() if v is True)
    return renames, frozenset(hidden)
