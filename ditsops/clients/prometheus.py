"""Prometheus: PromQL through prometheus-api-client, alerts and rules through httpx.

prometheus-api-client returns only `data.result`; a response hook on its session keeps
the whole envelope so that resultType, warnings and errors are not lost. Its session
carries the credentials of prometheus_url's origin and refuses to leave it; every call
runs under one total deadline (see clients/deadline.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import TargetError, TargetUnreachable
from ditsops.base.secrets import redact_text, redact_url, without_userinfo
from ditsops.clients.bounded import CHUNK, DEFAULT_MAX_BYTES, declared_length, read_bounded, shut
from ditsops.clients.deadline import describe_deadline, within
from ditsops.clients.http import make_client, request
from ditsops.clients.shapes import UnexpectedAnswer, json_body, prom_alerts, prom_query, prom_rule_groups

if TYPE_CHECKING:
    import httpx
    import requests

    from ditsops.base.origins import Credentials, Origin


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float | None = None  # instant value (vector) or the last point (matrix)
    points: tuple[tuple[float, float], ...] = ()  # (unix time, value), for range results

    @property
    def name(self) -> str:
        return self.labels.get("__name__", "")

    def describe(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()) if k != "__name__")
        return f"{self.name}{{{inner}}}" if inner or not self.name else self.name


@dataclass(frozen=True)
class PromResult:
    result_type: str  # scalar | vector | matrix | string
    series: list[Series] = field(default_factory=list)
    scalar: float | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Alert:
    name: str
    state: str  # pending | firing | silenced | inhibited
    labels: dict[str, str]
    annotations: dict[str, str]
    since: datetime | None
    value: str | None = None
    source: str = "prometheus"  # or alertmanager
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


def _number(text: Any) -> float:
    return float(text)  # Prometheus sends "NaN", "+Inf" as strings; float() reads them


def parse_time(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-01-01"):
        return None
    # Go writes up to nanoseconds; Python reads at most microseconds.
    cleaned = re.sub(r"\.(\d{1,6})\d*", r".\1", text.replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(cleaned)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_result(data: dict[str, Any], warnings: list[str]) -> PromResult:
    kind = data.get("resultType", "vector")
    raw = data.get("result", [])
    if kind == "scalar":
        return PromResult(kind, scalar=_number(raw[1]), warnings=warnings)
    if kind == "string":
        return PromResult(kind, warnings=warnings)
    series = []
    for item in raw:
        if "values" in item:
            points = tuple((float(t), _number(v)) for t, v in item["values"])
            series.append(Series(item.get("metric", {}), points[-1][1] if points else None, points))
        else:
            series.append(Series(item.get("metric", {}), _number(item["value"][1])))
    return PromResult(kind, series, warnings=warnings)


class PrometheusClient:
    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float,
        secrets: frozenset[str],
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        self.url = without_userinfo(url)
        self._configured = url
        self._credentials = credentials
        self._secrets = secrets
        self._deadline = float(timeout)
        self._max_bytes = max_bytes
        self._captured = threading.local()  # each thread's last response (steps may run in parallel)
        session = _origin_session(credentials.origin)
        session.verify = (_environ_ca_bundle() or True) if credentials.verify is True else credentials.verify
        # requests would read the proxy, CA-bundle and netrc settings from the whole
        # environment on every request: about 1 ms each, most of a small query's CPU, and
        # a dashboard sends a dozen at once. Read once here, for this URL (NO_PROXY
        # honoured); no ~/.netrc: the credentials are the configured ones.
        # ... and a proxy only when it may see the credentials (base/origins.py, proxy_credentials).
        session.proxies = _environ_proxies(self.url) if credentials.use_environment_proxy else {}
        session.trust_env = False
        session.hooks["response"].append(self._keep)
        # No retries: an engineer at 3 a.m. needs "unreachable" in seconds, not after backoff.
        self._prom = PrometheusConnect(
            url=self.url,
            headers=credentials.headers or None,
            auth=credentials.basic,
            session=session,
            retry=Retry(total=0),
            timeout=timeout,
        )
        # Over the adapter PrometheusConnect mounted: every answer, redirects included, is
        # streamed and counted (clients/bounded.py) before requests would read it whole.
        adapter = _bounded_adapter(max_bytes, self.where, self._captured)
        for prefix in (self.url, "http://", "https://"):
            session.mount(prefix, adapter)
        self._http: httpx.Client | None = None

    @property
    def _last(self) -> Any:
        return getattr(self._captured, "response", None)

    def _keep(self, response: requests.Response, *args: object, **kwargs: object) -> requests.Response:
        self._captured.response = response
        return response

    def close(self) -> None:
        self._prom.close()
        if self._http is not None:
            self._http.close()

    @property
    def where(self) -> str:
        return redact_url(self.url)

    def query(self, expr: str, at: datetime | None = None) -> PromResult:
        params = {"time": at.timestamp()} if at else None
        return self._call(lambda: self._prom.custom_query(expr, params=params))

    def query_range(self, expr: str, start: datetime, end: datetime, step: str) -> PromResult:
        return self._call(lambda: self._prom.custom_query_range(expr, start_time=start, end_time=end, step=step))

    def _call(self, send: Callable[[], object]) -> PromResult:
        # requests' timeout is per socket read: the whole exchange runs under one total deadline.
        stop_at = time.monotonic() + self._deadline
        opened: list[Any] = []  # the urllib3 responses of this call, for the deadline to shut

        def exchange() -> PromResult:
            self._captured.stop_at, self._captured.opened = stop_at, opened
            return self._exchange(send)

        return within(self._deadline, exchange, lambda: self._overrun(), lambda: _shut_all(opened))

    def _overrun(self) -> str:
        return describe_deadline("Prometheus", self.where, self._deadline)

    def _exchange(self, send: Callable[[], object]) -> PromResult:
        import requests
        import urllib3
        from prometheus_api_client.exceptions import PrometheusApiClientException

        self._captured.response = None
        try:
            send()
        except _LeftOrigin as error:
            raise TargetError(str(error)) from None
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
            # the body is read by BoundedAdapter, outside requests' own wrapping: its socket's
            # timeout arrives as urllib3's (or the socket's) own, racing the deadline's
            raise TargetUnreachable(self._overrun()) from None
        except (requests.exceptions.JSONDecodeError, KeyError, TypeError, IndexError, AttributeError):
            pass  # the library could not read the answer: prom_query below says what is wrong with it
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, ConnectionError) as error:
            reason = _short(error)
            raise TargetUnreachable(
                f"cannot reach Prometheus at {self.where}: {redact_text(reason, self._secrets)}"
            ) from None
        except PrometheusApiClientException:
            raise self._rejected() from None
        data, warnings = prom_query(json_body(self._last, "Prometheus"))
        return parse_result(data, warnings)

    def _rejected(self) -> Exception:
        """A non-200 answer: Prometheus' own error envelope is its verdict (TargetError);
        anything else (a proxy's 502 page, a list) means Prometheus is not answering (exit 4)."""
        response = self._last
        status = response.status_code if response is not None else 0
        try:
            body = response.json() if response is not None else None
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict) and body.get("status") == "error":
            message = f"Prometheus: {body.get('errorType', 'error')}: {body.get('error', '')}"[:500]
            return TargetError(redact_text(message, self._secrets))
        if status in (401, 403):
            return TargetError(f"Prometheus at {self.where} refused the credentials (HTTP {status})")
        return TargetUnreachable(f"Prometheus at {self.where} failed: HTTP {status}")

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = make_client(self._configured, self._credentials, self._deadline, self._max_bytes)
        return self._http

    def alerts(self) -> list[Alert]:
        response = request(self._client(), "GET", "/api/v1/alerts", "Prometheus", self._secrets)
        return [
            Alert(
                name=item["labels"].get("alertname", "?"),
                state=item.get("state", "firing"),
                labels=item.get("labels", {}),
                annotations=item.get("annotations", {}),
                since=parse_time(item.get("activeAt")),
                value=item.get("value"),
            )
            for item in prom_alerts(json_body(response, "Prometheus"))
        ]

    def label_values(self, label: str, match: str | None, start: datetime, end: datetime) -> list[str]:
        """/api/v1/label/<label>/values (match[] narrows it to a selector's series): a dashboard's
        label_values() variable, as Grafana asks it."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", label):
            raise TargetError(f"Prometheus: {label!r} is not a label name")
        return self._names(f"/api/v1/label/{label}/values", match, start, end)

    def label_names(self, match: str | None, start: datetime, end: datetime) -> list[str]:
        """/api/v1/labels: a dashboard's label_names() variable."""
        return self._names("/api/v1/labels", match, start, end)

    def _names(self, path: str, match: str | None, start: datetime, end: datetime) -> list[str]:
        params: dict[str, Any] = {"start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}"}
        if match:
            params["match[]"] = match
        response = request(self._client(), "GET", path, "Prometheus", self._secrets, params=params)
        body = json_body(response, "Prometheus")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise UnexpectedAnswer("Prometheus", f"{path}: data is not a list of strings")
        return data

    def alert_rules(self) -> list[dict[str, Any]]:
        response = request(
            self._client(), "GET", "/api/v1/rules", "Prometheus", self._secrets, params={"type": "alert"}
        )
        groups = prom_rule_groups(json_body(response, "Prometheus"))
        return [rule for group in groups for rule in group.get("rules", [])]


def _short(error: Exception) -> str:
    """requests' connection errors nest urllib3's; the innermost reason is the useful part."""
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(error).__name__


def _environ_proxies(url: str) -> dict[str, str]:
    import requests.utils

    return dict(requests.utils.get_environ_proxies(url))


def _environ_ca_bundle() -> str | None:
    """The CA bundle requests takes from the environment when verification is on."""
    import os

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _bounded_adapter(limit: int, where: str, call: threading.local) -> Any:
    """A requests adapter that reads each answer's body itself, at most `limit` bytes
    (decoded), and stops at the calling thread's deadline (`call.stop_at`)."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class BoundedAdapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            response = super().send(request, *args, **kwargs)
            raw = response.raw
            opened = getattr(call, "opened", None)
            if opened is not None:
                opened.append(raw)
            try:
                response._content = read_bounded(
                    raw.stream(CHUNK, decode_content=True),
                    limit=limit,
                    service="Prometheus",
                    where=where,
                    length=declared_length(response.headers),
                    stop_at=getattr(call, "stop_at", None),
                )
            except BaseException:
                response.close()
                raise
            response._content_consumed = True
            raw.release_conn()
            return response

    return BoundedAdapter(max_retries=Retry(total=0))


def _shut_all(responses: list[Any]) -> None:
    for raw in responses:
        connection = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
        shut(getattr(connection, "sock", None))


class _LeftOrigin(Exception):
    """A redirect (or a URL) that would take Prometheus' credentials to another origin."""


def _origin_session(origin: Origin) -> requests.Session:
    """A requests session that refuses to leave `origin`, redirects included.

    requests strips the Authorization header on a cross-host redirect, then may add
    ~/.netrc credentials for the new host and goes on; ditsops does not follow at all.
    """
    import requests

    from ditsops.base.origins import origin_of

    class OriginSession(requests.Session):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            if origin_of(request.url or "") != origin:
                raise _LeftOrigin(
                    f"Prometheus at {origin} sent ditsops to {redact_url(request.url)}: not followed "
                    f"(credentials stay with {origin}; configure the final address instead)"
                )
            return super().send(request, **kwargs)

    return OriginSession()
