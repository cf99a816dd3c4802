"""HTTP to Prometheus, Alertmanager and Dits through httpx, errors translated here.

One place builds clients (auth, CA bundle, timeout) and one place turns transport and
server failures into TargetUnreachable (exit 4) and rejections into TargetError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ditsops.core.errors import ConfigError, TargetError, TargetUnreachable
from ditsops.core.secrets import redact_text, strip_password

if TYPE_CHECKING:
    import httpx

    from ditsops.core.config import Settings


def require_url(value: str | None, what: str, setting: str) -> str:
    if not value:
        raise ConfigError(
            f"no {what} URL configured",
            hint=f"set DITSOPS_{setting.upper()} or '{setting}' in a profile (or use --profile sandbox)",
        )
    return value.rstrip("/")


def auth_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.prometheus_token}"} if settings.prometheus_token else {}


def basic_auth(settings: Settings) -> tuple[str, str] | None:
    if settings.http_username:
        return (settings.http_username, settings.http_password or "")
    return None


def verify(settings: Settings) -> bool | str:
    if settings.insecure:
        return False
    return settings.ca_bundle or True


def make_client(settings: Settings, base_url: str) -> httpx.Client:
    import httpx

    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": "ditsops", **auth_headers(settings)},
        auth=basic_auth(settings),
        verify=verify(settings),
        timeout=settings.http_timeout,
        follow_redirects=True,
    )


def request(
    client: httpx.Client,
    method: str,
    path: str,
    what: str,
    secrets: frozenset[str] = frozenset(),
    *,
    ok_statuses: tuple[int, ...] = (),
    **kwargs: Any,
) -> httpx.Response:
    """Send a request; raise TargetUnreachable for transport failures and 5xx, TargetError for 4xx.

    Statuses in ok_statuses are returned as data (a 503 from /health means 'degraded').
    """
    import httpx

    where = strip_password(f"{client.base_url}")
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise TargetUnreachable(f"{what} at {where} did not answer within {client.timeout.read:g}s") from None
    except httpx.TransportError as error:
        reason = redact_text(str(error) or type(error).__name__, secrets)
        raise TargetUnreachable(f"cannot reach {what} at {where}: {reason}") from None
    if response.status_code in ok_statuses or response.is_success:
        return response
    message = envelope_error(response) or f"HTTP {response.status_code} {response.reason_phrase}"
    message = redact_text(message, secrets)
    if response.status_code == 401 or response.status_code == 403:
        raise TargetError(f"{what} at {where} refused the credentials: {message}")
    if response.status_code >= 500 and not _error_envelope(response):
        # A proxy's 502 page or Alertmanager's {"code": 500, ...} alike: the service is not
        # answering its API (exit 4). Only Prometheus' own {"status": "error"} is a verdict.
        raise TargetUnreachable(f"{what} at {where} failed: {message}")
    raise TargetError(f"{what} rejected {method} {path}: {message}")


def _error_envelope(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and body.get("status") == "error"


def envelope_error(response: httpx.Response) -> str | None:
    """Prometheus' and Alertmanager's error envelopes as one line."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return text[0][:300] if text else None
    if isinstance(body, dict) and body.get("status") == "error":
        kind = body.get("errorType")
        return f"{kind}: {body.get('error')}" if kind else str(body.get("error"))
    if isinstance(body, str):
        return body.strip()[:300]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return None
