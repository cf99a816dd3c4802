"""`http:` — GET a Dits server endpoint and check its status; /health JSON is shown whole.

- id: health
  title: Dits server health
  http: /health          # a path on dits_url, or an absolute http(s) URL
  expect: 200
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ditsops.core.errors import TargetUnreachable
from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import references, render_text


@dataclass(frozen=True)
class HttpSpec:
    target: str
    expect: int = 200


def split_target(target: str, base: str | None) -> tuple[str | None, str]:
    """(base URL to use, path): an absolute URL carries its own base."""
    if target.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        return f"{parts.scheme}://{parts.netloc}", parts.path or "/"
    return base, target if target.startswith("/") else "/" + target


@register
class HttpKind(StepKind):
    prefetch = True
    key = "http"
    fields = ("expect",)
    target = "dits"

    def parse(self, value: Any, reader: FieldReader) -> HttpSpec | None:
        if not isinstance(value, str) or not value.strip():
            reader.problem("http", "'http' must be a path like /health or an http(s) URL")
            return None
        expect = reader.get("expect", int, default=200)
        if not 100 <= expect <= 599:
            reader.problem("expect", "'expect' must be an HTTP status code")
        return HttpSpec(value.strip(), expect)

    def references(self, spec: HttpSpec | None) -> set[str]:
        return references(spec.target) if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        return f"GET {render_text(step.spec.target, params)} (expect HTTP {step.spec.expect})"

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        from ditsops.clients.dits import DitsClient

        spec: HttpSpec = step.spec
        base, path = split_target(render_text(spec.target, ctx.params), ctx.settings.dits_url)
        client = ctx.client(f"dits:{base}", lambda: DitsClient(ctx.settings, base))
        try:
            probe = client.get(path)
        except TargetUnreachable as error:
            # Reachability is what this step checks: a server that does not answer fails the check.
            return StepResult(Status.FAILING, error.message, data={"path": path, "reachable": False})
        return probe_result(probe, spec.expect)


def probe_result(probe, expect: int) -> StepResult:
    body = probe.body if isinstance(probe.body, dict) else {}
    reported = body.get("status")
    good = probe.http_status == expect and reported in (None, "healthy", "ok")
    parts = [f"HTTP {probe.http_status}"]
    if reported:
        parts.append(str(reported))
    if body.get("version"):
        parts.append(f"version {body['version']}")
    if body.get("uptime_seconds") is not None:
        from ditsops.core.durations import format_duration

        parts.append(f"up {format_duration(float(body['uptime_seconds']))}")
    parts.append(f"{probe.latency_ms:.0f} ms")
    unhealthy = [c for c in body.get("checks", []) if c.get("status") != "healthy"]
    if unhealthy:
        parts.append("unhealthy: " + ", ".join(c.get("name", "?") for c in unhealthy))
    tables = []
    if body.get("checks"):
        rows = [(c.get("name"), c.get("status"), c.get("latency_ms"), c.get("message")) for c in body["checks"]]
        tables.append(Table(("check", "status", "latency (ms)", "message"), rows))
    return StepResult(
        Status.OK if good else Status.FAILING,
        ", ".join(parts) + ("" if good else f" (expected HTTP {expect})" if probe.http_status != expect else ""),
        tables=tables,
        data={"path": probe.path, "http_status": probe.http_status, "latency_ms": probe.latency_ms, "body": probe.body},
    )
