"""`http:` — GET an endpoint of a configured server and check its status; /health JSON is shown whole.

- id: health
  title: Dits server health
  http: /health          # a path on dits_url
  expect: 200

Where the request goes is never a parameter: the scheme+host+port come from a configured
target, and placeholders may fill only the path and query (each value percent-encoded, so
it cannot add a '/', '?', '#' or '@' of its own). Spellings:

  http: /health                                  # dits_url
  http: prometheus:/-/ready                      # prometheus_url (also alertmanager:, dits:)
  http: {target: alertmanager, path: /-/healthy}
  http: https://status.internal:8443/health      # a literal origin: gets no credentials
                                                 # unless it is a configured one

`runbook lint` refuses a placeholder in the scheme, host or port (exit 2, file:line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import ConfigError, TargetUnreachable
from ditsops.base.secrets import redact_url
from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import PLACEHOLDER, references

if TYPE_CHECKING:
    from ditsops.clients.dits import Probe
    from ditsops.core.config import Settings

# target name -> the setting holding its base URL
TARGETS = {"dits": "dits_url", "prometheus": "prometheus_url", "alertmanager": "alertmanager_url"}
NAMES = {"dits": "Dits server", "prometheus": "Prometheus", "alertmanager": "Alertmanager"}
_ABSOLUTE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)(.*)\Z")
_NAMED = re.compile(r"^([a-z]+):(/.*)\Z")


@dataclass(frozen=True)
class HttpSpec:
    target: str  # dits | prometheus | alertmanager | a literal http(s) origin
    path: str = "/"  # may hold placeholders; always starts with a single '/'
    expect: int = 200
    check: str | None = None  # one named check of a /health answer decides the status

    @property
    def shown(self) -> str:
        if self.target == "dits":
            return self.path
        return f"{self.target}:{self.path}" if self.target in TARGETS else self.target + self.path


def parse_target(value: Any) -> tuple[HttpSpec | None, str | None]:
    """(spec without expect, problem): the one place that decides where an http step may go."""
    if isinstance(value, dict):
        unknown = set(value) - {"target", "path"}
        if unknown:
            return None, f"'http' takes target and path, not {', '.join(sorted(map(str, unknown)))}"
        target, path = value.get("target", "dits"), value.get("path", "/")
        if not isinstance(target, str) or target not in TARGETS:
            return None, f"'http' target must be one of {', '.join(TARGETS)} (a placeholder cannot choose it)"
        if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
            return None, "'http' path must start with a single '/'"
        return HttpSpec(target, path), None
    if not isinstance(value, str) or not value.strip():
        return None, "'http' must be a path like /health, target:/path, {target, path} or an http(s) URL"
    text = value.strip()
    absolute = _ABSOLUTE.match(text)
    if absolute:
        scheme, authority, rest = absolute.groups()
        if references(scheme + "://" + authority) or "{{" in authority or "{{" in scheme:
            return None, (
                f"the scheme, host and port of 'http' cannot take a parameter ({text!r}): name a "
                f"configured target instead (/path on dits_url, prometheus:/path, alertmanager:/path)"
            )
        if scheme.lower() not in ("http", "https") or not authority or "@" in authority:
            return None, f"'http' URL must be http(s)://host[:port]/path without credentials, got {text!r}"
        path = rest or "/"
        if not path.startswith("/") or path.startswith("//"):
            return None, f"'http' URL path must start with a single '/', got {text!r}"
        return HttpSpec(f"{scheme.lower()}://{authority}", path), None
    if text.startswith("{{"):
        return None, (
            f"the target of 'http' cannot be a parameter ({text!r}): write /path (dits_url), "
            "prometheus:/path or alertmanager:/path"
        )
    named = _NAMED.match(text)
    if named:
        if named.group(1) not in TARGETS:
            return None, f"'http' target must be one of {', '.join(TARGETS)}, got {named.group(1)!r}"
        target, path = named.groups()
    else:
        target, path = "dits", text if text.startswith("/") else "/" + text
    if path.startswith("//"):
        return None, f"'http' path must start with a single '/', got {text!r}"
    return HttpSpec(target, path), None


def fill_path(path: str, params: dict[str, Any]) -> str:
    """The path with each placeholder's value percent-encoded: values never add structure."""
    from urllib.parse import quote

    from ditsops.core.params import display

    def value(match: re.Match[str]) -> str:
        text = display(params[match.group(1)])
        return quote(text, safe="").replace(".", "%2E") if text in (".", "..") else quote(text, safe="")

    return PLACEHOLDER.sub(value, path)


def base_url(spec: HttpSpec, settings: Settings) -> str:
    if spec.target in TARGETS:
        configured: str | None = getattr(settings, TARGETS[spec.target])
        if not configured:
            raise ConfigError(
                f"no {spec.target} URL configured for an http step",
                hint=f"set DITSOPS_{TARGETS[spec.target].upper()} or '{TARGETS[spec.target]}' in a profile",
            )
        return configured.rstrip("/")
    return spec.target


@register
class HttpKind(StepKind[HttpSpec]):
    spec_type = HttpSpec
    prefetch = True
    key = "http"
    fields = ("expect", "check")
    target = "dits"

    def parse(self, value: Any, reader: FieldReader) -> HttpSpec | None:
        spec, problem = parse_target(value)
        if spec is None:
            reader.problem("http", problem or "'http' must name a path or a URL")
            return None
        expect = reader.get("expect", int, default=200)
        if not 100 <= expect <= 599:
            reader.problem("expect", "'expect' must be an HTTP status code")
        check = reader.get("check", str, default=None)
        if check is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", check):
            reader.problem("check", "'check' must name one check of the /health answer (letters, digits, _ . -)")
        return HttpSpec(spec.target, spec.path, expect, check)

    def references(self, spec: HttpSpec | None) -> set[str]:
        return references(spec.path) if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        spec = self.spec_of(step)
        filled = HttpSpec(spec.target, fill_path(spec.path, params), spec.expect)
        return f"GET {redact_url(filled.shown)} (expect HTTP {spec.expect})"

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        from ditsops.core import connect

        spec = self.spec_of(step)
        base, path = base_url(spec, ctx.settings), fill_path(spec.path, ctx.params)
        name = NAMES.get(spec.target, "server")
        client = ctx.client(f"http:{base}", lambda: connect.dits(ctx.settings, base, name))
        try:
            probe = client.get(path)
        except TargetUnreachable as error:
            if spec.check:  # a server that does not answer says nothing about one of its checks
                return StepResult.failed(error.message, unreachable=True)
            # Reachability is what this step checks: a server that does not answer fails the check.
            return StepResult(Status.FAILING, error.message, data={"path": redact_url(path), "reachable": False})
        result = probe_result(probe, spec.expect)
        return named_check(result, probe, spec.check) if spec.check else result


def named_check(result: StepResult, probe: Probe, name: str) -> StepResult:
    """The step's status is that one check's: `storage` failing while the database is what
    fails the whole /health is `ok` here (the S3 branch opens only for storage)."""
    body = probe.body if isinstance(probe.body, dict) else {}
    raw = body.get("checks")
    checks: list[Any] = raw if isinstance(raw, list) else []
    found = next((c for c in checks if isinstance(c, dict) and c.get("name") == name), None)
    if found is None:
        result.status, result.summary = Status.INFO, f"no check named {name} in the answer; {result.summary}"
        return result
    healthy = found.get("status") == "healthy"
    message = f": {str(found.get('message'))[:200]}" if found.get("message") else ""
    result.status = Status.OK if healthy else Status.FAILING
    result.summary = f"{name} {found.get('status')}{message} (whole answer: {result.summary})"
    return result


def probe_result(probe: Probe, expect: int) -> StepResult:
    body = probe.body if isinstance(probe.body, dict) else {}
    reported = body.get("status")
    good = probe.http_status == expect and reported in (None, "healthy", "ok")
    parts = [f"HTTP {probe.http_status}"]
    if reported:
        parts.append(str(reported))
    if body.get("version"):
        parts.append(f"version {body['version']}")
    if body.get("uptime_seconds") is not None:
        from ditsops.base.durations import format_duration

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
        data={
            "path": redact_url(probe.path),
            "http_status": probe.http_status,
            "latency_ms": probe.latency_ms,
            "body": probe.body,
        },
    )
