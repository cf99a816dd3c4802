"""Prometheus answers as a panel's series: legends, and heatmap buckets de-accumulated."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesData:
    name: str  # the legend: legendFormat filled in, or the series' labels
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value); one point for an instant query
    unit: str
    decimals: int | None = None
    ref_id: str = ""  # the query it answers (a table's `Value #A` column)

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points if not math.isnan(v)]

    @property
    def last(self) -> float | None:
        values = self.values
        return values[-1] if values else None

    def reduce(self, calc: str) -> float | None:
        """Grafana's reduce calculation (lastNotNull, last, mean, max, min, sum, first...)."""
        values = self.values
        if not values:
            return None
        if calc in ("mean", "avg"):
            return sum(values) / len(values)
        reducers: dict[str, Callable[[list[float]], float]] = {
            "max": max,
            "min": min,
            "sum": sum,
            "first": lambda v: v[0],
            "firstNotNull": lambda v: v[0],
            "count": lambda v: float(len(v)),
            "range": lambda v: max(v) - min(v),
        }
        reducer = reducers.get(calc)
        return reducer(values) if reducer else values[-1]  # lastNotNull, last


def legend(template: str, labels: Mapping[str, str]) -> str:
    """legendFormat with `{{label}}` filled from the series' labels (missing: empty)."""
    return re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def describe(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}" if inner else name


def bucket_bound(series: SeriesData) -> float:
    text = series.labels.get("le", "")
    try:
        return float(text)
    except ValueError:
        return math.inf


def deaccumulate(series: list[SeriesData]) -> list[SeriesData]:
    """Cumulative `le` buckets -> each bucket's own count (Grafana's format=heatmap), lowest first."""
    ordered = sorted(series, key=bucket_bound)
    out: list[SeriesData] = []
    below: dict[float, float] = {}
    for item in ordered:
        points = tuple((t, max(0.0, v - below.get(t, 0.0)) if not math.isnan(v) else v) for t, v in item.points)
        below = {t: v for t, v in item.points if not math.isnan(v)}
        out.append(SeriesData(item.name, item.labels, points, item.unit, item.decimals, item.ref_id))
    return out
