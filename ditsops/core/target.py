"""The target header: which profile, database, Prometheus, cluster a command acts on."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ditsops.base.errors import DitsopsError
from ditsops.core.config import Settings

# One describer per kind of target; step kinds name the target they talk to.
Describer = Callable[[Settings], list[tuple[str, str]]]
DESCRIBERS: dict[str, Describer] = {}


def describer(target: str) -> Callable[[Describer], Describer]:
    def register(function: Describer) -> Describer:
        DESCRIBERS[target] = function
        return function

    return register


@describer("database")
def _database(settings: Settings) -> list[tuple[str, str]]:
    from ditsops.core.connect import database_target

    if settings.dsn is None:
        lines = [("database", "not configured (--dsn, DITSOPS_DSN, PG* or a profile)")]
    else:
        try:
            lines = [("database", database_target(settings).describe())]
        except DitsopsError as error:
            lines = [("database", error.message)]
    if settings.diagnostics_dsn is not None:
        # Who diagnostics run as (checked harmless on connect); actions keep the line above.
        from ditsops.clients.postgres import describe_target

        try:
            lines.append(("diagnostics", f"as {describe_target(settings.diagnostics_dsn).user} (diagnostics_dsn)"))
        except DitsopsError as error:
            lines.append(("diagnostics", error.message))
    return lines


def _url(label: str, attribute: str) -> Describer:
    def describe(settings: Settings) -> list[tuple[str, str]]:
        from ditsops.base.secrets import redact_url

        value = getattr(settings, attribute)
        return [(label, redact_url(value) if value else f"not configured ({attribute})")]

    return describe


@describer("kubernetes")
def _kubernetes(settings: Settings) -> list[tuple[str, str]]:
    from ditsops.core.connect import kube_target

    try:
        api, target = kube_target(settings)
    except DitsopsError as error:
        return [("kubernetes", error.message)]
    api.close()
    return [("kubernetes", f"context {target.context} at {target.server}"), ("namespace", target.namespace)]


DESCRIBERS["prometheus"] = _url("prometheus", "prometheus_url")
DESCRIBERS["alertmanager"] = _url("alertmanager", "alertmanager_url")
DESCRIBERS["dits"] = _url("dits server", "dits_url")


def header(settings: Settings, targets: Iterable[str]) -> list[tuple[str, str]]:
    lines = [("profile", settings.profile or "none (environment and defaults)")]
    for name in dict.fromkeys(targets):
        if name in DESCRIBERS:
            lines += DESCRIBERS[name](settings)
    lines.append(("production", "yes" if settings.production else "no"))
    return lines
