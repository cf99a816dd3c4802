"""Where a Kubernetes client points, and the one line for each way the API can fail.

Split from clients/kube.py (which re-exports these): loading the kubeconfig or the
in-cluster configuration, and turning statuses and transport errors into messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ditsops.base.errors import ConfigError, TargetError, TargetUnreachable

T = TypeVar("T")
VERBS = {"GET": "get", "PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}


@dataclass(frozen=True)
class KubeTarget:
    context: str
    server: str
    namespace: str

    def describe(self) -> str:
        return f"{self.context} ({self.server}), namespace {self.namespace}"


class Conflict(TargetError):
    """409: the object changed since it was read; callers retry like kubectl does."""


class NotFound(TargetError):
    """404: callers that treat absence as a state (a free lease) catch this one."""


def load_target(
    kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> tuple[Any, KubeTarget]:
    """An ApiClient and where it points: kubeconfig (KUBECONFIG, profile, --context) or in-cluster."""
    import os

    from kubernetes import client, config

    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    path = path.split(os.pathsep)[0]
    if os.path.exists(path):
        try:
            contexts, current = config.list_kube_config_contexts(config_file=path)
            chosen = context or (current or {}).get("name")
            found = next((c for c in contexts if c["name"] == chosen), None)
            if found is None:
                known = ", ".join(c["name"] for c in contexts)
                raise ConfigError(f"no context {chosen!r} in {path} (contexts: {known})")
            configuration = client.Configuration()
            # No urllib3 retries: set before the pool is built, or a dead server costs 4 time-outs.
            configuration.retries = False
            config.load_kube_config(
                config_file=path, context=chosen, client_configuration=configuration, persist_config=False
            )
            api = client.ApiClient(configuration)
        except config.ConfigException as error:
            raise ConfigError(f"kubeconfig {path}: {error}") from None
        namespace = namespace or found["context"].get("namespace") or "default"
        name: str = found["name"]
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        configuration.retries = False
        config.load_incluster_config(client_configuration=configuration)
        api = client.ApiClient(configuration)
        name = "in-cluster"
        try:
            with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as handle:
                namespace = namespace or handle.read().strip()
        except OSError:
            namespace = namespace or "default"
    else:
        raise ConfigError(
            f"no kubeconfig at {path} and not running in a cluster",
            hint="set KUBECONFIG, kubeconfig in a profile, or use --profile sandbox",
        )
    from ditsops.base.secrets import redact_url

    return api, KubeTarget(name, redact_url(api.configuration.host) or api.configuration.host, namespace)


def api_error(
    target: KubeTarget, namespace: str, method: str, path: str, status: int, data: bytes, what: str
) -> Exception:
    """The one line for a non-2xx answer of the Kubernetes API."""
    try:
        body = json.loads(data)
        message = str(body.get("message") or body.get("reason") or "")[:500]  # a server's text: bounded
    except (ValueError, AttributeError):
        message = data.decode("utf-8", "replace")[:200]
    if status == 403:
        return TargetError(
            f"forbidden: you may not {VERBS.get(method, method.lower())} {what or path} "
            f"in namespace {namespace}: {message}"
        )
    if status == 404:
        return NotFound(f"{what or path} not found in namespace {namespace} ({target.context})")
    if status == 409:
        return Conflict(message or f"conflict on {what or path}")
    if status == 401:
        return TargetError(f"the Kubernetes API at {target.server} refused the credentials: {message}")
    if status >= 500 or status == 429:
        return TargetUnreachable(f"the Kubernetes API at {target.server} failed: HTTP {status} {message}".strip())
    return TargetError(f"the Kubernetes API rejected {VERBS.get(method, method)} {what or path}: {message}")


def socket_of(response: Any) -> Any:
    """The socket under a urllib3 response (None once it went back to the pool)."""
    connection = getattr(response, "_connection", None) or getattr(response, "connection", None)
    return getattr(connection, "sock", None)


def short_reason(error: Any) -> str:
    text = str(error)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
        "certificate verify failed",
    ):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(error).__name__


def retry_on_conflict(
    action: Callable[[], T],
    *,
    interval: float = 1.0,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """kubectl retries a conflicting update every second for up to five minutes."""
    deadline = clock() + timeout
    while True:
        try:
            return action()
        except Conflict:
            if clock() + interval > deadline:
                raise
            sleep(interval)
