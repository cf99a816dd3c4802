"""The one way to obtain a client: from the effective Settings to a client of plain values.

Clients (ditsops/clients/) take a URL, the credentials allowed for its origin, timeouts
and the secrets to scrub, never the settings object; this module reads the settings for
them. Steps (through `RunContext.client`) and direct commands both come here, so a
command and a runbook step talk to a target the same way. The client modules are
imported inside each function: their libraries stay out of `ditsops --help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ditsops.base.errors import ConfigError
from ditsops.core.names import check_namespace

if TYPE_CHECKING:
    from ditsops.clients.alertmanager import AlertmanagerClient
    from ditsops.clients.dits import DitsClient
    from ditsops.clients.kube import KubeClient, KubeTarget
    from ditsops.clients.postgres import DbTarget, PostgresClient
    from ditsops.clients.prometheus import PrometheusClient
    from ditsops.core.config import Settings


def require_url(value: str | None, what: str, setting: str) -> str:
    if not value:
        raise ConfigError(
            f"no {what} URL configured",
            hint=f"set DITSOPS_{setting.upper()} or '{setting}' in a profile (or use --profile sandbox)",
        )
    return value.rstrip("/")


def _require_dsn(settings: Settings) -> str:
    if settings.dsn is None:
        raise ConfigError(
            "no database configured",
            hint="pass --dsn, set DITSOPS_DSN or PGHOST, or use a profile with a dsn",
        )
    return settings.dsn


# The operator's session runs only SQL shipped in ditsops/sql: names resolve in the
# catalog alone, so no function or operator someone created can stand in for a built-in.
OPERATOR_SEARCH_PATH = "pg_catalog,pg_temp"


def postgres(settings: Settings) -> PostgresClient:
    """The operator's session (dsn): destructive actions, their previews, and the shipped
    diagnostics when no diagnostics_dsn is configured."""
    from ditsops.clients.postgres import PostgresClient

    return PostgresClient.connect(
        _require_dsn(settings),
        connect_timeout=settings.connect_timeout,
        statement_timeout=settings.statement_timeout,
        lock_timeout=settings.lock_timeout,
        secrets=settings.secrets(),
        search_path=OPERATOR_SEARCH_PATH,
    )


def diagnostics(settings: Settings) -> PostgresClient:
    """The session SQL from outside ditsops is sent on, its role checked on connect.

    With diagnostics_dsn: that role, refused at once (naming it and the setting) when it
    could do harm. Without it: a session on the operator's dsn, whose role is checked too;
    `diagnose` then refuses on it unless that role is harmless itself.
    """
    from ditsops.clients.postgres import DIAGNOSTICS_HINT, PostgresClient, describe_target

    dsn = settings.diagnostics_dsn
    if dsn is None:
        dsn = _require_dsn(settings)
    elif settings.dsn is not None:
        mine, theirs = describe_target(dsn), describe_target(settings.dsn)
        if (mine.host, mine.port, mine.dbname) != (theirs.host, theirs.port, theirs.dbname):
            raise ConfigError(
                f"diagnostics_dsn points at {mine.host}:{mine.port}/{mine.dbname} "
                f"but dsn at {theirs.host}:{theirs.port}/{theirs.dbname}: diagnostics would read another "
                "database than the one actions change",
                hint="point both at the same database (or unset diagnostics_dsn for this one)",
            )
    client = PostgresClient.connect(
        dsn,
        connect_timeout=settings.connect_timeout,
        statement_timeout=settings.statement_timeout,
        lock_timeout=settings.lock_timeout,
        secrets=settings.secrets(),
    )
    try:
        role = client.check_role()
    except BaseException:
        client.close()
        raise
    if settings.diagnostics_dsn is not None and not role.harmless:
        client.close()
        raise ConfigError(f"diagnostics_dsn logs in as a role that can do harm: {role.describe()}; {DIAGNOSTICS_HINT}")
    if settings.diagnostics_dsn is not None and not role.sees_all_sessions:
        client.close()
        raise ConfigError(
            f"diagnostics_dsn logs in as {role.role}, which cannot see other sessions' state and query "
            f"(every count by state would be wrong): GRANT pg_monitor TO {role.role}"
        )
    return client


def reader(settings: Settings) -> PostgresClient:
    """The session for shipped diagnostics (`db` read commands, a runbook's named `sql:`):
    the diagnostics role when one is configured, so that every diagnostic runs where it
    can do no harm whatever the database holds; otherwise the operator's session."""
    return diagnostics(settings) if settings.diagnostics_dsn is not None else postgres(settings)


def database_target(settings: Settings) -> DbTarget:
    """Where the configured database is, without connecting."""
    from ditsops.clients.postgres import describe_target

    return describe_target(settings.dsn or "")


def kube(settings: Settings) -> KubeClient:
    from ditsops.clients.kube import KubeClient

    client = KubeClient.connect(
        **_kube_options(settings),
        timeout=float(settings.http_timeout),
        max_bytes=settings.max_response_bytes,
    )
    _check_context_namespace(client.target)
    return client


def kube_target(settings: Settings) -> tuple[Any, KubeTarget]:
    """An API client and where it points, without a request sent (the header's line)."""
    from ditsops.clients.kube import load_target

    api, target = load_target(**_kube_options(settings))
    _check_context_namespace(target)
    return api, target


def _check_context_namespace(target: KubeTarget) -> None:
    """The namespace a kubeconfig context names is checked like one given on the command line."""
    check_namespace(target.namespace, f"namespace of kube context {target.context!r}")


def _kube_options(settings: Settings) -> dict[str, str | None]:
    # Every command, reads included: a namespace is one DNS-1123 label, whoever gave it
    # (a newline or a '/' in it would otherwise reach the API path or the printed command).
    source = settings.sources.get("namespace", "option")
    check_namespace(settings.namespace, "--namespace" if source == "option" else f"namespace ({source})")
    return {"kubeconfig": settings.kubeconfig, "context": settings.kube_context, "namespace": settings.namespace}


def prometheus(settings: Settings) -> PrometheusClient:
    from ditsops.clients.prometheus import PrometheusClient

    url = require_url(settings.prometheus_url, "Prometheus", "prometheus_url")
    return PrometheusClient(url, **_http_options(settings, url))


def alertmanager(settings: Settings) -> AlertmanagerClient:
    from ditsops.clients.alertmanager import AlertmanagerClient

    url = require_url(settings.alertmanager_url, "Alertmanager", "alertmanager_url")
    return AlertmanagerClient(url, **_http_options(settings, url))


def dits(settings: Settings, url: str | None = None, name: str = "Dits server") -> DitsClient:
    """The Dits server at `url` (default: dits_url). Another origin than the configured
    ones gets no credentials (the client's `configured_origin` says so)."""
    from ditsops.clients.dits import DitsClient

    base = require_url(url or settings.dits_url, "Dits server", "dits_url")
    return DitsClient(base, **_http_options(settings, base), name=name)


def _http_options(settings: Settings, url: str) -> dict[str, Any]:
    # Credentials stay with their origin: only what base/origins.py allows for url's origin.
    return {
        "credentials": settings.credentials_for(url),
        "timeout": float(settings.http_timeout),
        "secrets": settings.secrets(),
        "max_bytes": settings.max_response_bytes,
    }
