"""Small dashboards and a recording Prometheus double for the Grafana-behaviour tests
(test_dash_grafana.py, test_dash_layout.py)."""

from __future__ import annotations

import io
import re
import threading
from datetime import datetime
from typing import Any

from rich.console import Console

from ditsops.base.errors import UsageError
from ditsops.clients.prometheus import PromResult, Series
from ditsops.core import dashboards, dashquery
from ditsops.render.console import THEME
from ditsops.render.dash import render_dashboard

DOCS = "https://grafana.com/docs/grafana/latest/dashboards/variables/"


class Recorder:
    """Prometheus as the variable and panel queries see it; every call recorded."""

    def __init__(self, labels: dict[str, list[str]] | None = None, fail: str | None = None) -> None:
        self.labels = labels or {}
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.peak_threads = 0

    def _note(self, call: str, arg: Any) -> None:
        with self.lock:
            self.calls.append((call, arg))
            self.peak_threads = max(self.peak_threads, threading.active_count())

    def label_values(self, label: str, match: str | None, start: datetime, end: datetime) -> list[str]:
        self._note("label_values", (label, match))
        if self.fail and self.fail == label:
            raise UsageError("Prometheus: bad_data: 1:1: parse error")
        return list(self.labels.get(label, []))

    def label_names(self, match: str | None, start: datetime, end: datetime) -> list[str]:
        self._note("label_names", match)
        return sorted(self.labels)

    def query(self, expr: str, at: datetime | None = None) -> PromResult:
        self._note("query", expr)
        return PromResult("vector", [Series({"__name__": "up", "instance": "a:9100", "job": "node"}, 1.0)])

    def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult:
        self._note("query_range", expr)
        points = ((start.timestamp(), 1.0), (end.timestamp(), 2.0))
        return PromResult("matrix", [Series({"instance": "a"}, 2.0, points)])

    def exprs(self) -> list[str]:
        return [arg for call, arg in self.calls if call in ("query", "query_range")]


def board(panels: list[dict] | None = None, variables: list[dict] | None = None, **extra: Any) -> dashboards.Dashboard:
    document = {"title": "t", "panels": panels if panels is not None else [], **extra}
    document["templating"] = {"list": variables or []}
    return dashboards.parse(document)


def graph(title: str = "p", expr: str = "up", **extra: Any) -> dict:
    return {"type": "timeseries", "title": title, "targets": [{"expr": expr, "refId": "A"}], **extra}


def run(dashboard: dashboards.Dashboard, client: Recorder, given: dict[str, str] | None = None):
    window = dashquery.time_range("1h")
    ready = dashquery.prepare(dashboard, given or {}, client, window)
    return dashquery.fetch_dashboard(ready.dashboard, client, window, ready.variables, notes=ready.notes)


def draw(data: dashquery.DashboardData, width: int, expand: bool = False) -> str:
    out = io.StringIO()
    render_dashboard(Console(file=out, width=width, theme=THEME, color_system=None), data, expand)
    return out.getvalue()


def box_widths(text: str) -> list[int]:
    return [len(m.group(0)) for line in text.splitlines() for m in re.finditer(r"╭[^╮]*╮", line)]


def query_var(name: str, query: str, **extra: Any) -> dict:
    return {"name": name, "type": "query", "query": {"query": query, "refId": "v"}, "refresh": 1, **extra}
