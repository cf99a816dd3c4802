"""Effective settings: command-line option > environment > profile > defaults.

Profiles live in a TOML file (XDG config dir, or --config / DITSOPS_CONFIG):

    default_profile = "staging"

    [profiles.staging]
    dsn = "postgresql://ditsops@db.staging:5432/dits"
    prometheus_url = "http://prometheus.staging:9090"

    [profiles.prod]
    dsn = "host=db.prod dbname=dits user=ditsops"
    production = true

A built-in profile is not in the file: a provider registered with
`register_profile_provider` gives its values when it is chosen. The sandbox registers
`sandbox` this way (ditsops/sandbox/__init__.py, imported by the cli): it exists while
`ditsops sandbox up` runs and points at the sandbox's services. This module knows no
provider by name, so the product without the sandbox is whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ditsops.base import paths
from ditsops.base.errors import ConfigError
from ditsops.base.secrets import password_of, redact_dsn, redact_url, userinfo_of

if TYPE_CHECKING:
    from ditsops.base.origins import Credentials

# Built-in profiles: name -> the function that gives the profile's values when it is
# chosen (it may raise ConfigError to say why the profile is not available now). A file's
# profile of the same name is shadowed: a built-in profile means one thing everywhere.
PROFILE_PROVIDERS: dict[str, Callable[[], Mapping[str, Any]]] = {}


def register_profile_provider(name: str, provider: Callable[[], Mapping[str, Any]]) -> None:
    """The hook through which a part of ditsops outside core (the sandbox) offers a profile."""
    PROFILE_PROVIDERS[name] = provider


# libpq reads these itself when no DSN is given; any of them means "the environment names a database".
LIBPQ_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")


@dataclass(frozen=True)
class Settings:
    profile: str | None = None
    dsn: str | None = None
    # the session diagnostics run on: a login role of its own with only pg_monitor (README,
    # "The diagnostics role"); SQL that did not ship with ditsops runs nowhere else
    diagnostics_dsn: str | None = None
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    dits_url: str | None = None
    kube_context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None  # default: the kube context's namespace
    production: bool = False
    connect_timeout: int = 5
    statement_timeout: str = "30s"
    lock_timeout: str = "5s"
    # the shared record store: a PostgreSQL DSN (ditsops/store/); None: local records only
    record_store: str | None = None
    # the engineer's name in records, incidents and leases (default: user@host)
    user: str | None = None
    # Credentials go only to the origin (scheme+host+port) they are configured for: see base/origins.py
    prometheus_token: str | None = None  # bearer token for prometheus_url's and alertmanager_url's origins
    http_username: str | None = None  # basic auth for the same two origins
    http_password: str | None = None
    ca_bundle: str | None = None  # PEM file to verify HTTPS with (configured origins only)
    insecure: bool = False  # skip HTTPS verification of configured origins (lab use only)
    # origins (URLs) whose credentials may travel through HTTP(S)_PROXY; by default a client
    # carrying credentials connects directly, so that no proxy sees them
    proxy_credentials: str | None = None
    # seconds: the total deadline of each call to Prometheus, Alertmanager, Dits, Kubernetes
    # (connect, headers and the whole body), not a per-read timeout
    http_timeout: int = 10
    # bytes: the largest answer body read from Prometheus, Alertmanager, Dits or Kubernetes;
    # a larger one is refused while it arrives (exit 4), never read whole first
    max_response_bytes: int = 32 * 1024 * 1024
    # runbook parameter defaults for this environment (e.g. namespace), below --set and alert labels
    params: dict[str, str] = field(default_factory=dict)
    # the config file named by --config or DITSOPS_CONFIG (None: the default one), so that
    # printed commands can name it again
    config_path: str | None = None
    # where each value came from: "option", "environment", "profile <name>", "default"
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    # what the engineer must be told about these settings (core/configsafety.py), once
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def secrets(self) -> frozenset[str]:
        """Every secret value these settings hold, for scrubbing output and records."""
        found = {
            password_of(self.dsn),
            password_of(self.record_store),
            password_of(self.diagnostics_dsn),
            self.prometheus_token,
            self.http_password,
            os.environ.get("PGPASSWORD"),
        }
        for url in (self.prometheus_url, self.alertmanager_url, self.dits_url):
            written = userinfo_of(url)
            found.add(written[1] if written else None)
        return frozenset(s for s in found if s)

    def credentials_for(self, url: str) -> Credentials:
        """What may be sent to url's origin: only the credentials configured for it."""
        from ditsops.base.origins import credentials_for

        return credentials_for(self, url)

    def redacted(self) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for item in fields(self):
            if item.name in ("sources", "config_path", "warnings"):
                continue
            value = getattr(self, item.name)
            if item.name in ("dsn", "diagnostics_dsn", "record_store"):
                value = redact_dsn(value)
            elif item.name.endswith("_url"):
                value = redact_url(value)
            elif item.name in ("prometheus_token", "http_password") and value:
                value = "***"
            shown[item.name] = value
        return shown


# setting name -> environment variable
ENVIRONMENT = {
    "dsn": "DITSOPS_DSN",
    "diagnostics_dsn": "DITSOPS_DIAGNOSTICS_DSN",
    "prometheus_url": "DITSOPS_PROMETHEUS_URL",
    "alertmanager_url": "DITSOPS_ALERTMANAGER_URL",
    "dits_url": "DITSOPS_DITS_URL",
    "kube_context": "DITSOPS_KUBE_CONTEXT",
    "kubeconfig": "KUBECONFIG",
    "namespace": "DITSOPS_NAMESPACE",
    "production": "DITSOPS_PRODUCTION",
    "connect_timeout": "DITSOPS_CONNECT_TIMEOUT",
    "statement_timeout": "DITSOPS_STATEMENT_TIMEOUT",
    "lock_timeout": "DITSOPS_LOCK_TIMEOUT",
    "record_store": "DITSOPS_RECORD_STORE",
    "user": "DITSOPS_USER",
    "prometheus_token": "DITSOPS_PROMETHEUS_TOKEN",
    "http_username": "DITSOPS_HTTP_USERNAME",
    "http_password": "DITSOPS_HTTP_PASSWORD",
    "ca_bundle": "DITSOPS_CA_BUNDLE",
    "insecure": "DITSOPS_INSECURE",
    "proxy_credentials": "DITSOPS_PROXY_CREDENTIALS",
    "http_timeout": "DITSOPS_HTTP_TIMEOUT",
    "max_response_bytes": "DITSOPS_MAX_RESPONSE_BYTES",
}
_TEXT = {
    "dsn",
    "record_store",
    "diagnostics_dsn",
    "user",
    "prometheus_url",
    "alertmanager_url",
    "dits_url",
    "kube_context",
    "kubeconfig",
    "namespace",
    "prometheus_token",
    "http_username",
    "http_password",
    "ca_bundle",
    "proxy_credentials",
}
_KEYS = {item.name for item in fields(Settings)} - {"profile", "sources", "config_path", "warnings"}


MAX_DEPTH = 16  # tables and arrays in a config: profiles.<name>.params is three


def read_config_file(path: Path, warnings: list[str] | None = None) -> dict[str, Any]:
    """The config file's TOML, bounded like a runbook: a regular file of at most 1 MiB,
    nesting at most MAX_DEPTH deep (tomllib recurses per array level). Refused when
    another user owns it or may write it; readable by others with secrets: a warning."""
    from ditsops.core.configsafety import check_owner_and_mode, readable_secrets_warning
    from ditsops.core.safefile import FileProblem, read_text

    if not path.exists():
        return {}
    import tomllib  # here: without a config file, no command pays for the parser

    status = check_owner_and_mode(path)
    try:
        text = read_text(path).text
    except FileProblem as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # "Invalid value (at line 3, column 7)": no contents quoted
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    if _depth(config) > MAX_DEPTH:
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    warning = readable_secrets_warning(path, status, config)
    if warning and warnings is not None:
        warnings.append(warning)
    return config


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _coerce(name: str, value: Any, origin: str) -> Any:
    if name == "params":
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: params must be a table of runbook parameter defaults")
        return {str(k): str(v) for k, v in value.items()}
    if name == "proxy_credentials" and isinstance(value, list):
        return " ".join(str(item) for item in value)
    kind = type(getattr(Settings(), name))
    if name in _TEXT:
        kind = str
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError
        if kind is int:
            number = int(value)
            if name == "max_response_bytes" and number < 1024:
                raise ConfigError(f"{origin}: max_response_bytes must be at least 1024, got {value!r}")
            return number
        return str(value)
    except ValueError:
        raise ConfigError(f"{origin}: {name} must be {kind.__name__}, got {value!r}") from None


def _profile_values(config: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    if name in PROFILE_PROVIDERS:
        return dict(PROFILE_PROVIDERS[name]())
    profiles = config.get("profiles", {})
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"no profile {name!r} in {path} (profiles: {known})")
    values: dict[str, Any] = profiles[name]
    unknown = set(values) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: profile {name!r} has unknown keys: {', '.join(sorted(unknown))}")
    return values


def load_settings(
    *, profile: str | None = None, config_path: Path | None = None, options: dict[str, Any] | None = None
) -> Settings:
    """Resolve every setting and remember where each came from."""
    from ditsops.core.configsafety import setting_warnings

    path = config_path or paths.default_config_file()
    warnings: list[str] = []
    config = read_config_file(path, warnings)
    profile = profile or os.environ.get("DITSOPS_PROFILE") or config.get("default_profile")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    if profile:
        for key, value in _profile_values(config, profile, path).items():
            values[key] = _coerce(key, value, f"profile {profile}")
            sources[key] = f"profile {profile}"

    profiled = values.get("production") is True
    for key, variable in ENVIRONMENT.items():
        if os.environ.get(variable) not in (None, ""):
            values[key] = _coerce(key, os.environ[variable], variable)
            sources[key] = f"environment {variable}"
    if "DITSOPS_DSN" not in os.environ:
        libpq = [v for v in LIBPQ_TARGET_VARIABLES if os.environ.get(v)]
        if libpq:
            values["dsn"] = ""  # an empty conninfo lets libpq read the PG* variables itself
            sources["dsn"] = "environment " + ",".join(libpq)

    for key, value in (options or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, "option")
            sources[key] = "option"

    for key in _KEYS - set(sources):
        sources[key] = "default"
    explicit = str(config_path) if config_path else None
    warnings += setting_warnings(profile, values, sources, profiled)
    return replace(
        Settings(), profile=profile, sources=sources, config_path=explicit, warnings=tuple(warnings), **values
    )
