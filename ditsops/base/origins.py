"""Credentials bound to their origin (scheme + host + port).

A credential is configured for a URL, and it goes only to that URL's origin:

- `prometheus_token` (bearer) and `http_username`/`http_password` (basic auth) belong to
  `prometheus_url` and `alertmanager_url`;
- a user:password written in `prometheus_url`, `alertmanager_url` or `dits_url` belongs to
  that URL's origin only;
- `ca_bundle` and `insecure` apply to those configured origins only: any other host is
  verified against the system's trust store.

Any other origin (an `ditsops health --url` elsewhere, an absolute URL in a runbook) gets no
credentials at all. Credentials never go through a proxy named by HTTP_PROXY/HTTPS_PROXY/
ALL_PROXY (it would see them) unless `proxy_credentials` names their origin: a client
carrying credentials otherwise connects directly. A request or redirect that would leave the origin a client was built
for is refused by the client (see clients/http.py), so no parameter, alert label or
server answer can make a credential travel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from ditsops.base.errors import ConfigError
from ditsops.base.secrets import redact_url, userinfo_of, without_userinfo

_DEFAULT_PORTS = {"http": 80, "https": 443}
# setting -> whether the shared token and basic auth belong to it
CONFIGURED_URLS = {"prometheus_url": True, "alertmanager_url": True, "dits_url": False}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def origin_of(url: str) -> Origin:
    """scheme + host + port of a URL (default ports filled in); ConfigError when it has none."""
    try:
        parts = urlsplit(without_userinfo(url.strip()))
        port = parts.port
    except ValueError as error:
        raise ConfigError(f"not a valid URL: {redact_url(url)} ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(f"not an http(s) URL with a host: {redact_url(url)}")
    return Origin(scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class Credentials:
    """What a client for one origin may send: never anything configured for another."""

    origin: Origin
    configured: bool  # the origin is one of the configured URLs' origins
    headers: dict[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None
    verify: bool | str = True
    via_proxy: bool = False  # proxy_credentials names this origin: a proxy from the environment may carry them

    @property
    def any(self) -> bool:
        return bool(self.headers or self.basic)

    @property
    def use_environment_proxy(self) -> bool:
        """Whether HTTP(S)_PROXY may carry this client's requests: always without credentials."""
        return not self.any or self.via_proxy


class Configured(Protocol):
    """The settings this module reads (core/config.py's Settings has them). A protocol, so
    that this module sits at the bottom with errors and secrets: clients use `origin_of`
    and `Credentials` without depending on the settings."""

    @property
    def prometheus_url(self) -> str | None: ...
    @property
    def alertmanager_url(self) -> str | None: ...
    @property
    def dits_url(self) -> str | None: ...
    @property
    def prometheus_token(self) -> str | None: ...
    @property
    def http_username(self) -> str | None: ...
    @property
    def http_password(self) -> str | None: ...
    @property
    def ca_bundle(self) -> str | None: ...
    @property
    def insecure(self) -> bool: ...
    @property
    def proxy_credentials(self) -> str | None: ...


def credentials_for(settings: Configured, url: str) -> Credentials:
    """The credentials configured for this URL's origin (none for an unconfigured origin)."""
    target = origin_of(url)
    configured = False
    headers: dict[str, str] = {}
    basic: tuple[str, str] | None = None
    for setting, shared in CONFIGURED_URLS.items():
        value = getattr(settings, setting)
        if not value:
            continue
        try:
            if origin_of(value) != target:
                continue
        except ConfigError:
            continue
        configured = True
        written = userinfo_of(value)
        if written and basic is None:
            basic = written
        if shared:
            if settings.prometheus_token:
                headers["Authorization"] = f"Bearer {settings.prometheus_token}"
            if settings.http_username and basic is None:
                basic = (settings.http_username, settings.http_password or "")
    verify: bool | str = True
    if configured:
        verify = False if settings.insecure else (settings.ca_bundle or True)
    if headers and basic:
        headers = {}  # a URL's own user:password or the configured basic auth wins over the token
    via_proxy = configured and target in proxy_origins(settings.proxy_credentials)
    return Credentials(target, configured, headers, basic, verify, via_proxy)


def proxy_origins(setting: str | None) -> set[Origin]:
    """The origins listed in proxy_credentials (comma- or space-separated URLs)."""
    return {origin_of(item) for item in (setting or "").replace(",", " ").split()}
