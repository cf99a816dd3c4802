"""Kubernetes through the official client: kubeconfig or in-cluster config, raw JSON objects.

Objects stay plain dicts (the wire format) rather than generated models: the actions
compare and patch templates exactly as kubectl does, and the dicts are what JSON patch
and the run record need. Every API error is translated here into one clear line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from ditsops.clients.deadline import describe_deadline, within
from ditsops.core.errors import ConfigError, TargetError, TargetUnreachable

T = TypeVar("T")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
FIELD_MANAGER = "ditsops"
PAGE = 500  # list page size, as kubectl's --chunk-size default
DEADLINE_GRACE = 0.5  # seconds after the per-operation timeout before the total deadline cuts a call

# path segment -> (group/version prefix, resource, kind shown in messages)
RESOURCES = {
    "deployments": ("/apis/apps/v1", "deployments.apps"),
    "replicasets": ("/apis/apps/v1", "replicasets.apps"),
    "pods": ("/api/v1", "pods"),
    "events": ("/api/v1", "events"),
    "jobs": ("/apis/batch/v1", "jobs.batch"),
    "cronjobs": ("/apis/batch/v1", "cronjobs.batch"),
    "leases": ("/apis/coordination.k8s.io/v1", "leases.coordination.k8s.io"),
}
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
    from ditsops.core.secrets import redact_url

    return api, KubeTarget(name, redact_url(api.configuration.host) or api.configuration.host, namespace)


class KubeClient:
    def __init__(self, api: Any, target: KubeTarget, timeout: float = 15.0) -> None:
        self._api = api
        self.target = target
        self.namespace = target.namespace
        self.timeout = timeout

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        timeout: float = 15.0,
    ) -> KubeClient:
        api, target = load_target(kubeconfig, context, namespace)
        return cls(api, target, timeout)

    def close(self) -> None:
        self._api.close()

    def in_namespace(self, namespace: str | None) -> KubeClient:
        """The same connection, acting in another namespace."""
        if not namespace or namespace == self.namespace:
            return self
        return KubeClient(self._api, KubeTarget(self.target.context, self.target.server, namespace), self.timeout)

    # -- transport ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: object = None,
        content_type: str = "application/json",
        what: str = "",
    ) -> dict[str, Any]:
        """A request whose answer is a JSON object (every API object and list is one)."""
        data = self._send(method, path, query=query, body=body, content_type=content_type, what=what)
        if not data:
            return {}
        answer = json.loads(data)
        if not isinstance(answer, dict):
            raise TargetError(f"the Kubernetes API answered {what or path} with JSON that is not an object")
        return answer

    def request_text(self, method: str, path: str, *, query: dict[str, Any] | None = None, what: str = "") -> str:
        """A request whose answer is text (a pod's log)."""
        return self._send(method, path, query=query, what=what).decode("utf-8", "replace")

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: object = None,
        content_type: str = "application/json",
        what: str = "",
    ) -> bytes:
        """The answer's body for a 2xx; the error for its status otherwise."""
        import urllib3

        headers = {"Accept": "application/json", "Content-Type": content_type}
        params = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )

        def exchange() -> Any:
            try:
                response = self._api.call_api(*params, _request_timeout=self.timeout)
                response.read()
                return response
            except (urllib3.exceptions.HTTPError, OSError) as error:
                reason = getattr(error, "reason", None) or error
                raise TargetUnreachable(
                    f"cannot reach the Kubernetes API at {self.target.server}: {_short(reason)}"
                ) from None
            except Exception as error:  # the client wraps TLS and request errors in ApiException(status=0)
                if getattr(error, "status", None) == 0:
                    raise TargetUnreachable(
                        f"cannot reach the Kubernetes API at {self.target.server}: {_short(error)}"
                    ) from None
                raise

        # _request_timeout bounds each socket operation (a silent server fails at self.timeout
        # with "timed out"); the total deadline cuts a server that drips its answer, a moment
        # later so that the silent case keeps its own message.
        response = within(
            self.timeout + DEADLINE_GRACE,
            exchange,
            lambda: describe_deadline("the Kubernetes API", self.target.server, self.timeout),
        )
        data: bytes = response.data or b""
        if 200 <= response.status < 300:
            return data
        raise self._error(method, path, response.status, data, what)

    def _error(self, method: str, path: str, status: int, data: bytes, what: str) -> Exception:
        try:
            body = json.loads(data)
            message = body.get("message") or body.get("reason") or ""
        except (ValueError, AttributeError):
            message = data.decode("utf-8", "replace")[:200]
        if status == 403:
            return TargetError(
                f"forbidden: you may not {VERBS.get(method, method.lower())} {what or path} "
                f"in namespace {self.namespace}: {message}"
            )
        if status == 404:
            return NotFound(f"{what or path} not found in namespace {self.namespace} ({self.target.context})")
        if status == 409:
            return Conflict(message or f"conflict on {what or path}")
        if status == 401:
            return TargetError(f"the Kubernetes API at {self.target.server} refused the credentials: {message}")
        if status >= 500 or status == 429:
            return TargetUnreachable(
                f"the Kubernetes API at {self.target.server} failed: HTTP {status} {message}".strip()
            )
        return TargetError(f"the Kubernetes API rejected {VERBS.get(method, method)} {what or path}: {message}")

    def _path(
        self, resource: str, name: str | None = None, subresource: str | None = None, namespace: str | None = None
    ) -> str:
        prefix, _ = RESOURCES[resource]
        path = f"{prefix}/namespaces/{_segment(namespace or self.namespace)}/{resource}"
        if name:
            path += f"/{_segment(name)}"
        if subresource:
            path += f"/{_segment(subresource)}"
        return path

    # -- reads -------------------------------------------------------------------------

    def get(self, resource: str, name: str, *, subresource: str | None = None) -> dict[str, Any]:
        label = f'{RESOURCES[resource][1]} "{name}"' + (f" {subresource}" if subresource else "")
        return self.request("GET", self._path(resource, name, subresource), what=label)

    def list(
        self, resource: str, *, selector: str | None = None, field_selector: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every item, fetched page by page (limit/continue) so huge lists stay bounded."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.request(
                "GET",
                self._path(resource),
                what=RESOURCES[resource][1],
                query={
                    "labelSelector": selector,
                    "fieldSelector": field_selector,
                    "limit": min(PAGE, limit - len(items)) if limit else PAGE,
                    "continue": token,
                },
            )
            items += page.get("items", [])
            token = page.get("metadata", {}).get("continue")
            if not token or (limit and len(items) >= limit):
                return items

    def logs(
        self,
        pod: str,
        *,
        container: str | None = None,
        tail: int | None = None,
        since_seconds: int | None = None,
        previous: bool = False,
        timestamps: bool = False,
    ) -> str:
        """The log text; with `timestamps`, each line starts with the kubelet's RFC 3339 time."""
        return self.request_text(
            "GET",
            self._path("pods", pod, "log"),
            what=f'logs of pod "{pod}"',
            query={
                "container": container,
                "tailLines": tail,
                "sinceSeconds": since_seconds,
                "previous": "true" if previous else None,
                "timestamps": "true" if timestamps else None,
            },
        )

    def follow_logs(
        self,
        pod: str,
        *,
        container: str | None = None,
        tail: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = True,
    ) -> Iterator[str]:
        """`follow=true` (kubectl logs -f): the lines there now (the last `tail`), then each new
        line as the kubelet writes it, until the pod goes or the caller stops iterating.

        Connecting is bounded by the timeout; reading is not, as with kubectl: a quiet pod
        may write nothing for hours. Lines come without their newline."""
        import urllib3

        what = f'logs of pod "{pod}"'
        query = {
            "follow": "true",
            "container": container,
            "tailLines": tail,
            "sinceSeconds": since_seconds,
            "timestamps": "true" if timestamps else None,
        }
        params = self._api.param_serialize(
            method="GET",
            resource_path=self._path("pods", pod, "log"),
            query_params=[(k, v) for k, v in query.items() if v is not None],
            header_params={"Accept": "*/*"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(*params, _request_timeout=(self.timeout, None)).response
        except (urllib3.exceptions.HTTPError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise TargetUnreachable(
                f"cannot reach the Kubernetes API at {self.target.server}: {_short(reason)}"
            ) from None
        try:
            if not 200 <= response.status < 300:
                raise self._error("GET", what, response.status, response.read(), what)
            pending = b""
            try:
                for chunk in response.stream(64 * 1024, decode_content=True):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        yield line.decode("utf-8", "replace")
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise TargetUnreachable(
                    f"lost the log stream of pod {pod!r} from {self.target.server}: {_short(error)}"
                ) from None
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            response.release_conn()

    # -- writes ------------------------------------------------------------------------

    def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return self.request(
            "PATCH",
            self._path(resource, name, subresource),
            body=patch,
            content_type=content_type,
            what=f'{RESOURCES[resource][1]} "{name}"',
            query={"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
        )

    def create(self, resource: str, body: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        name = body.get("metadata", {}).get("name", "")
        return self.request(
            "POST",
            self._path(resource),
            body=body,
            what=f'{RESOURCES[resource][1]} "{name}"',
            query={"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
        )

    def replace(
        self, resource: str, name: str, body: dict[str, Any], *, dry_run: bool = False, subresource: str | None = None
    ) -> dict[str, Any]:
        return self.request(
            "PUT",
            self._path(resource, name, subresource),
            body=body,
            what=f'{RESOURCES[resource][1]} "{name}"',
            query={"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
        )

    def delete(
        self, resource: str, name: str, *, preconditions: dict[str, str] | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """DELETE with optional preconditions (uid, resourceVersion): a 409 Conflict when the
        object is no longer the one the caller read, so nobody deletes what they did not see."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if preconditions:
            body["preconditions"] = preconditions
        return self.request(
            "DELETE",
            self._path(resource, name),
            body=body,
            what=f'{RESOURCES[resource][1]} "{name}"',
            query={"dryRun": "All" if dry_run else None},
        )


def _segment(value: str) -> str:
    """One path segment, quoted whole: a '/' in a name cannot split it and '.'/'..' cannot
    climb out of it (names are also checked as DNS-1123 before they get here)."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


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


def _short(error: Any) -> str:
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
