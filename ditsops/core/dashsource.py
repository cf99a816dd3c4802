"""Which data source a panel, a target or a variable asks for, as Grafana decides it.

ditsops has one data source: the configured Prometheus. Grafana's default data source
(a panel without one, `null`, `"default"`) is taken to be it, and so is every data source
of type prometheus, whatever its name or uid (`${DS_PROMETHEUS}`, `$datasource`, a uid of
another Grafana). Another type (Loki, Elasticsearch, InfluxDB, …) is named: its panels
say `Loki datasource: not configured` in their own box, the rest of the dashboard draws.

The type comes from, in order: the reference's own `type`; a datasource template
variable it names (its `query` is the plugin type); the export's `__inputs` (`DS_X` ->
pluginId); the name itself when it names another kind (a data source called "Loki").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PROMETHEUS = "prometheus"
MIXED = "mixed"
_VARIABLE_REF = re.compile(r"^\$\{?(\w+)(?::\w+)?\}?$")
# Types recognised from a bare data source name; anything else is taken for Prometheus.
_NAMED_TYPES = {
    "loki": "loki",
    "elastic": "elasticsearch",
    "influx": "influxdb",
    "graphite": "graphite",
    "mysql": "mysql",
    "postgres": "postgres",
    "mssql": "mssql",
    "cloudwatch": "cloudwatch",
    "tempo": "tempo",
    "jaeger": "jaeger",
    "zipkin": "zipkin",
    "testdata": "testdata",
    "opentsdb": "opentsdb",
    "stackdriver": "stackdriver",
    "azure": "grafana-azure-monitor-datasource",
    "clickhouse": "clickhouse",
}
_SHOWN = {
    "loki": "Loki",
    "elasticsearch": "Elasticsearch",
    "influxdb": "InfluxDB",
    "graphite": "Graphite",
    "mysql": "MySQL",
    "postgres": "PostgreSQL",
    "grafana-postgresql-datasource": "PostgreSQL",
    "mssql": "Microsoft SQL Server",
    "cloudwatch": "CloudWatch",
    "testdata": "TestData",
    "grafana": "Grafana",
    "dashboard": "Dashboard",
}


class Sources:
    """The dashboard's own knowledge of its data sources: datasource variables and __inputs."""

    def __init__(self, variables: Mapping[str, str], inputs: Mapping[str, str]) -> None:
        self.variables = variables  # datasource variable name -> plugin type
        self.inputs = inputs  # DS_PROMETHEUS -> prometheus

    def kind(self, reference: object) -> str:
        """The plugin type `reference` (a panel's, target's or variable's `datasource`) means."""
        if reference is None:
            return PROMETHEUS
        if isinstance(reference, dict):
            kind = reference.get("type")
            uid = reference.get("uid")
            if kind == "datasource" or uid in ("-- Mixed --", "-- Dashboard --", "grafana"):
                return {"-- Mixed --": MIXED, "-- Dashboard --": "dashboard"}.get(str(uid), "grafana")
            if isinstance(kind, str) and kind and not kind.startswith("$"):
                return PROMETHEUS if "prometheus" in kind.lower() else kind
            return self.kind(uid) if isinstance(uid, str) else PROMETHEUS
        if not isinstance(reference, str):
            return PROMETHEUS
        name = reference.strip()
        if name in ("", "default", "-- Default --"):
            return PROMETHEUS
        if name == "-- Mixed --":
            return MIXED
        if name in ("-- Grafana --", "grafana"):
            return "grafana"
        if name == "-- Dashboard --":
            return "dashboard"
        found = _VARIABLE_REF.match(name)
        if found:
            ref = found.group(1)
            if ref in self.variables:
                return PROMETHEUS if "prometheus" in self.variables[ref].lower() else self.variables[ref]
            if ref in self.inputs:
                return PROMETHEUS if "prometheus" in self.inputs[ref].lower() else self.inputs[ref]
            return PROMETHEUS
        lowered = name.lower()
        if "prom" in lowered:
            return PROMETHEUS
        return next((kind for word, kind in _NAMED_TYPES.items() if word in lowered), PROMETHEUS)


def not_configured(kind: str) -> str:
    """`Loki datasource: not configured`: what a panel on another data source shows."""
    shown = _SHOWN.get(kind) or (kind.replace("-datasource", "").replace("-", " ").title() if kind else "Unknown")
    return f"{shown} datasource: not configured"
