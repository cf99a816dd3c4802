"""Kubernetes through the official client: kubeconfig or in-cluster config, raw JSON objects.

Objects stay plain dicts (the wire format) rather than generated models: the actions
compare and patch templates exactly as kubectl does, and the dicts are what JSON patch
and the run record need. Every API error is translated here into one clear line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, TypeVar
from urllib.parse import quote

from ditsops.base.errors import TargetUnreachable
from ditsops.clients.bounded import CHUNK, DEFAULT_MAX_BYTES, declared_length, read_bounded, shut
from ditsops.clients.deadline import describe_deadline, within
from ditsops.clients.kubeshapes import kube_object, kube_page
from ditsops.clients.kubetarget import Conflict as Conflict  # re-exported: callers import these from here
from ditsops.clients.kubetarget import KubeTarget as KubeTarget
from ditsops.clients.kubetarget import NotFound as NotFound
from ditsops.clients.kubetarget import api_error, short_reason, socket_of
from ditsops.clients.kubetarget import load_target as load_target
from ditsops.clients.kubetarget import retry_on_conflict as retry_on_conflict
from ditsops.clients.shapes import UnexpectedAnswer

T = TypeVar("T")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
FIELD_MANAGER = "ditsops"
PAGE = 500  # list page size, as kubectl's --chunk-size default
LOG_BYTES = 2 << 20  # of one pod's log read at once: 100 lines of a real log are far less
MAX_PAGES = 200  # 100,000 objects: a listing past that is a server that never says "done"
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


class KubeClient:
    def __init__(self, api: Any, target: KubeTarget, timeout: float = 15.0, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._api = api
        self.target = target
        self.namespace = target.namespace
        self.timeout = timeout
        self.max_bytes = max_bytes

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        timeout: float = 15.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> KubeClient:
        api, target = load_target(kubeconfig, context, namespace)
        return cls(api, target, timeout, max_bytes)

    def close(self) -> None:
        self._api.close()

    def in_namespace(self, namespace: str | None) -> KubeClient:
        """The same connection, acting in another namespace."""
        if not namespace or namespace == self.namespace:
            return self
        return KubeClient(
            self._api, KubeTarget(self.target.context, self.target.server, namespace), self.timeout, self.max_bytes
        )

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
        try:
            answer = json.loads(data)
        except (ValueError, RecursionError):
            raise UnexpectedAnswer("the Kubernetes API", f"{what or path}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise UnexpectedAnswer("the Kubernetes API", f"{what or path}: the document is not an object")
        return answer

    def request_text(self, method: str, path: str, *, query: dict[str, Any] | None = None, what: str = "") -> str:
        """A request whose answer is text (a pod's log): its first LOG_BYTES, the rest unread."""
        return self._send(method, path, query=query, what=what, keep=LOG_BYTES).decode("utf-8", "replace")

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: object = None,
        content_type: str = "application/json",
        what: str = "",
        keep: int | None = None,
    ) -> bytes:
        """The answer's body for a 2xx; the error for its status otherwise. `keep`: read that
        much of the body and no more (a log), instead of refusing a body past max_bytes."""
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

        stop_at = time.monotonic() + self.timeout + DEADLINE_GRACE
        opened: list[Any] = []  # the urllib3 response, for the deadline to shut its socket

        def exchange() -> tuple[int, bytes]:
            try:
                response = self._api.call_api(*params, _request_timeout=self.timeout).response
                opened.append(response)
                limit = min(keep, self.max_bytes) if keep else self.max_bytes
                try:
                    data = read_bounded(
                        _chunks(response),
                        limit=limit,
                        service="the Kubernetes API",
                        where=self.target.server,
                        length=None if keep else declared_length(response.headers),
                        stop_at=stop_at,
                        truncate=bool(keep),
                    )
                except BaseException:
                    response.close()  # never back to the pool half-read
                    raise
                if keep and len(data) >= limit:
                    response.close()  # a log cut at `keep`: the rest stays unread
                response.release_conn()
                return response.status, data
            except (urllib3.exceptions.HTTPError, OSError) as error:
                reason = getattr(error, "reason", None) or error
                raise TargetUnreachable(
                    f"cannot reach the Kubernetes API at {self.target.server}: {short_reason(reason)}"
                ) from None
            except Exception as error:  # the client wraps TLS and request errors in ApiException(status=0)
                if getattr(error, "status", None) == 0:
                    raise TargetUnreachable(
                        f"cannot reach the Kubernetes API at {self.target.server}: {short_reason(error)}"
                    ) from None
                raise

        # _request_timeout bounds each socket operation (a silent server fails at self.timeout
        # with "timed out"); the total deadline cuts a server that drips its answer, a moment
        # later so that the silent case keeps its own message.
        status, data = within(
            self.timeout + DEADLINE_GRACE,
            exchange,
            lambda: describe_deadline("the Kubernetes API", self.target.server, self.timeout),
            lambda: _shut_all(opened),
        )
        if 200 <= status < 300:
            return data
        raise api_error(self.target, self.namespace, method, path, status, data, what)

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
        answer = self.request("GET", self._path(resource, name, subresource), what=label)
        return kube_object(answer, resource, label, subresource)

    def list(
        self, resource: str, *, selector: str | None = None, field_selector: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every item, fetched page by page (limit/continue) so huge lists stay bounded.

        A server that keeps answering "more" cannot keep ditsops asking: a continue token
        seen before, or more than MAX_PAGES pages, ends the listing (exit 4)."""
        what = RESOURCES[resource][1]
        items: list[dict[str, Any]] = []
        token = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.request(
                "GET",
                self._path(resource),
                what=what,
                query={
                    "labelSelector": selector,
                    "fieldSelector": field_selector,
                    "limit": min(PAGE, limit - len(items)) if limit else PAGE,
                    "continue": token,
                },
            )
            found, token = kube_page(page, resource, what)
            items += found
            if not token or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            if token in seen:
                raise UnexpectedAnswer("the Kubernetes API", f"{what}: the same continue token came twice")
            seen.add(token)
        raise UnexpectedAnswer("the Kubernetes API", f"{what}: still more after {MAX_PAGES} pages of {PAGE}")

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
                "limitBytes": LOG_BYTES,
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
                f"cannot reach the Kubernetes API at {self.target.server}: {short_reason(reason)}"
            ) from None
        try:
            if not 200 <= response.status < 300:
                raise api_error(self.target, self.namespace, "GET", what, response.status, response.read(), what)
            pending = b""
            try:
                for chunk in response.stream(64 * 1024, decode_content=True):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    if len(pending) > self.max_bytes:  # a "line" that never ends: shown cut
                        lines, pending = [*lines, pending[: self.max_bytes]], b""
                    for line in lines:
                        yield line.decode("utf-8", "replace")
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise TargetUnreachable(
                    f"lost the log stream of pod {pod!r} from {self.target.server}: {short_reason(error)}"
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
        what = f'{RESOURCES[resource][1]} "{name}"'
        answer = self.request(
            "PATCH",
            self._path(resource, name, subresource),
            body=patch,
            content_type=content_type,
            what=what,
            query={"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
        )
        return kube_object(answer, resource, what, subresource)

    def create(self, resource: str, body: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        name = body.get("metadata", {}).get("name", "")
        what = f'{RESOURCES[resource][1]} "{name}"'
        answer = self.request(
            "POST",
            self._path(resource),
            body=body,
            what=what,
            query={"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
        )
        return kube_object(answer, resource, what)

    def replace(
        self, resource: str, name: str, body: dict[str, Any], *, dry_run: bool = False, subresource: str | None = None
    ) -> dict[str, Any]:
        what = f'{RESOURCES[resource][1]} "{name}"'
        answer = self.request(
            "PUT",
            self._path(resource, name, subresource),
            body=body,
            what=what,
            query={"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
        )
        return kube_object(answer, resource, what, subresource)

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


def _shut_all(responses: list[Any]) -> None:
    for response in responses:
        shut(socket_of(response))


def _chunks(response: Any) -> Any:
    """The body as it arrives (a test's preloaded response: one chunk)."""
    loaded = getattr(response, "_body", None)
    return [loaded] if loaded is not None else response.stream(CHUNK, decode_content=True)
