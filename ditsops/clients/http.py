"""HTTP to Prometheus, Alertmanager and Dits through httpx, errors translated here.

One place builds clients (the credentials and CA bundle of one origin, a total deadline)
and one place turns transport and server failures into TargetUnreachable (exit 4) and
rejections into TargetError. URLs in messages are redacted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import TargetError, TargetUnreachable
from ditsops.base.origins import origin_of
from ditsops.base.secrets import redact_text, redact_url, without_userinfo
from ditsops.clients.bounded import CHUNK, DEFAULT_MAX_BYTES, declared_length, read_bounded, shut
from ditsops.clients.deadline import describe_deadline, within

if TYPE_CHECKING:
    import httpx

    from ditsops.base.origins import Credentials


def make_client(
    base_url: str, credentials: Credentials, timeout: float, max_bytes: int = DEFAULT_MAX_BYTES
) -> httpx.Client:
    """An httpx client bound to base_url's origin, carrying only that origin's credentials
    (`credentials` are what base/origins.py allows for that origin; `timeout` in seconds is
    the total deadline of each call; `max_bytes` the largest answer body read).

    Every request it sends, redirects included, must stay on that origin: anything else is
    refused before it leaves (httpx would strip the Authorization header on a cross-origin
    redirect, but not the answer's authority over what we do next).
    """
    import httpx

    base = without_userinfo(base_url)

    def stay_on_origin(outgoing: httpx.Request) -> None:
        if origin_of(str(outgoing.url)) != credentials.origin:
            raise TargetError(
                f"{redact_url(base)} sent ditsops to {redact_url(str(outgoing.url))}: not followed "
                f"(credentials stay with {credentials.origin}; configure the final address instead)"
            )

    client = httpx.Client(
        base_url=base,
        headers={"User-Agent": "ditsops", **credentials.headers},
        auth=credentials.basic,
        verify=credentials.verify,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=5,
        event_hooks={"request": [stay_on_origin], "response": [_drop_redirect_body]},
        # A proxy from the environment would see the credentials: only where the user allowed it.
        trust_env=credentials.use_environment_proxy,
    )
    client.ditsops_credentials = credentials  # type: ignore[attr-defined]
    client.ditsops_deadline = float(timeout)  # type: ignore[attr-defined]
    client.ditsops_max_bytes = max_bytes  # type: ignore[attr-defined]
    return client


def _drop_redirect_body(response: httpx.Response) -> None:
    """httpx reads a redirect's whole body before following it; nothing in it is needed."""
    import httpx

    if response.has_redirect_location:
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream.close()  # the connection goes back unread
        response.stream = httpx.ByteStream(b"")


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

    where = redact_url(f"{client.base_url}".rstrip("/"))
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        raise TargetError(f"{what}: {redact_text(path, secrets)!r} is not a path on {where}")
    deadline = getattr(client, "ditsops_deadline", None) or client.timeout.read or 10.0
    limit = getattr(client, "ditsops_max_bytes", None) or DEFAULT_MAX_BYTES
    stop_at = time.monotonic() + deadline
    opened: list[httpx.Response] = []  # for the deadline to shut the socket of

    def send() -> httpx.Response:
        try:
            response = client.send(client.build_request(method, path, **kwargs), stream=True)
            opened.append(response)
            try:
                # Streamed and counted (decoded), inside the deadline: never read whole first.
                body = read_bounded(
                    response.iter_bytes(CHUNK),
                    limit=limit,
                    service=what,
                    where=where,
                    length=declared_length(response.headers),
                    stop_at=stop_at,
                )
            finally:
                response.close()
            response._content = body  # what response.read() would have kept
            return response
        except httpx.TimeoutException:
            raise TargetUnreachable(describe_deadline(what, where, deadline)) from None
        except httpx.TransportError as error:
            reason = redact_text(str(error) or type(error).__name__, secrets)
            raise TargetUnreachable(f"cannot reach {what} at {where}: {reason}") from None
        except httpx.HTTPError as error:  # too many redirects, an unreadable answer
            reason = redact_text(str(error) or type(error).__name__, secrets)
            raise TargetError(f"{what} at {where}: {reason}") from None

    response = within(deadline, send, lambda: describe_deadline(what, where, deadline), lambda: _shut_all(opened))
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
    raise TargetError(f"{what} rejected {method} {redact_text(path, secrets)}: {message}")


def _shut_all(responses: list[httpx.Response]) -> None:
    for response in responses:
        stream = response.extensions.get("network_stream")
        shut(stream.get_extra_info("socket") if stream is not None else None)


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
        return (f"{kind}: {body.get('error')}" if kind else str(body.get("error")))[:500]
    if isinstance(body, str):
        return body.strip()[:300]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:500]
    return None
