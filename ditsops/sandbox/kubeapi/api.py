"""Request routing and REST semantics, independent of the HTTP plumbing in ``httpd.py``.

Paths: ``/api/v1/...`` and ``/apis/{group}/{version}/...``, each either cluster-wide
(``/apis/apps/v1/deployments``) or namespaced (``/apis/apps/v1/namespaces/{ns}/deployments
[/{name}[/{subresource}]]``), plus the legacy ``/watch/`` prefix. Errors leave as
``metav1.Status`` bodies with the apiserver's codes and reasons.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from . import discovery, protobuf, subresources
from .errors import ApiError, bad_request, method_not_allowed, path_not_found, unsupported_media_type
from .logs import LogBook
from .patch import PATCH_TYPES, PatchError, apply_patch
from .resources import NAMESPACES, PODS, ResourceType, lookup
from .selectors import SelectorError, parse_field_selector, parse_label_selector
from .store import Obj, Store
from .tables import to_table
from .watch import WatchRequest, stream

JSON = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    alive: Callable[[], bool] = lambda: True

    @classmethod
    def build(
        cls,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        alive: Callable[[], bool] = lambda: True,
    ) -> Request:
        path, _, raw_query = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        return cls(method, path.rstrip("/") or "/", query, {k.lower(): v for k, v in headers.items()}, body, alive)


@dataclass
class Response:
    code: int
    body: bytes = b""
    content_type: str = JSON
    stream: Iterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, code: int, payload: Any) -> Response:
        return cls(code, json.dumps(payload, separators=(",", ":")).encode())


def _strip_type(obj: Obj) -> Obj:
    """List items carry no kind/apiVersion on the wire, as from the real apiserver."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def _accept(headers: dict[str, str]) -> tuple[str | None, str]:
    """What the client prefers: "Table", "PartialObjectMetadata(List)" or None (plain)."""
    for part in headers.get("accept", JSON).split(","):
        media, *params = [p.strip() for p in part.split(";")]
        opts = dict(p.split("=", 1) for p in params if "=" in p)
        if media not in (JSON, "*/*", "application/*"):
            continue
        if "as" not in opts:
            return None, media
        if opts.get("g") == "meta.k8s.io" and opts["as"] in (
            "Table",
            "PartialObjectMetadata",
            "PartialObjectMetadataList",
        ):
            return opts["as"], opts.get("v", "v1")
    return None, JSON


class KubeAPI:
    def __init__(self, store: Store, logs: LogBook, stopping: threading.Event) -> None:
        self.store, self.logs, self.stopping = store, logs, stopping
        self.appender = subresources.LogAppender(store, logs)

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as exc:
            return Response.json(exc.code, exc.status())
        except PatchError as exc:
            code, reason = (400, "BadRequest") if exc.bad_request else (422, "Invalid")
            return Response.json(code, ApiError(code, reason, str(exc)).status())
        except SelectorError as exc:
            return Response.json(400, bad_request(str(exc)).status())

    # ------------------------------------------------------------ routing

    def _route(self, req: Request) -> Response:
        path, method = req.path, req.method
        static = {
            "/version": discovery.KUBE_VERSION,
            "/api": discovery.api_versions(),
            "/apis": discovery.api_group_list(),
        }
        if path in static:
            return Response.json(200, static[path]) if method == "GET" else self._no_method()
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path == "/openapi/v3":
            return Response.json(200, discovery.openapi_v3_root())
        if path.startswith("/openapi/v3/"):
            doc = discovery.openapi_v3_group_version(path[len("/openapi/v3/") :])
            if doc is None:
                raise path_not_found()
            return Response.json(200, doc)
        parts = path.strip("/").split("/")
        if parts[0] == "sandbox" and len(parts) == 5 and parts[1:3] == ["v1", "namespaces"] and parts[4] == "logs":
            return self._sandbox_logs(req, parts[3])
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                doc = discovery.api_group(parts[1])
                if doc is None:
                    raise path_not_found()
                return Response.json(200, doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise path_not_found()
        if not rest:
            doc = discovery.resource_list(group, version)
            if doc is None:
                raise path_not_found()
            return Response.json(200, doc)
        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            candidate = lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        rt = lookup(group, version, rest[0]) if rest else None
        if rt is None or len(rest) > 3 or (rt.namespaced and namespace is None and len(rest) > 1):
            raise path_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if watch or req.query.get("watch", "").lower() in ("true", "1"):
            if method != "GET" or sub:
                raise path_not_found()
            return self._watch(req, rt, namespace, name)
        if sub:
            return self._subresource(req, rt, namespace, name or "", sub)
        if name is None:
            handlers = {"GET": self._list, "POST": self._create, "DELETE": self._delete_collection}
            if method not in handlers:
                return self._no_method()
            return handlers[method](req, rt, namespace)
        handlers_one = {"GET": self._get, "PUT": self._update, "PATCH": self._patch, "DELETE": self._delete}
        if method not in handlers_one:
            return self._no_method()
        return handlers_one[method](req, rt, namespace, name)

    @staticmethod
    def _no_method() -> Response:
        err = method_not_allowed()
        return Response.json(err.code, err.status())

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _body(req: Request) -> Any:
        media = req.headers.get("content-type", JSON).split(";")[0].strip().lower()
        if req.body and media == protobuf.MEDIA_TYPE:
            # kubectl's typed generators send protobuf (create job, create deployment, run);
            # the kinds in protoschema.json decode, the others are refused as before.
            try:
                return protobuf.decode(req.body)
            except protobuf.ProtobufError as exc:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {JSON} ({exc}; use kubectl create -f or apply -f)",
                ) from None
        if req.body and media not in (JSON, ""):
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{JSON} (this sandbox does not decode {media}; use kubectl create -f or apply -f)",
            )
        try:
            return json.loads(req.body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding request body: {exc}") from None

    @staticmethod
    def _dry_run(req: Request, body: Any = None) -> bool:
        values = [req.query["dryRun"]] if "dryRun" in req.query else []
        if isinstance(body, dict) and isinstance(body.get("dryRun"), list):
            values += body["dryRun"]
        for value in values:
            if value != "All":
                raise bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        return bool(values)

    def _render(self, req: Request, rt: ResourceType, items: list[Obj], meta: dict[str, Any], single: bool) -> Response:
        as_, _ = _accept(req.headers)
        if as_ == "Table":
            return Response.json(200, to_table(rt.plural, items, meta, req.query.get("includeObject", "Metadata")))
        if as_ == "PartialObjectMetadata" and single:
            return Response.json(
                200, {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": items[0]["metadata"]}
            )
        if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and not single:
            return Response.json(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [
                        {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
                        for o in items
                    ],
                },
            )
        if single:
            return Response.json(200, items[0])
        return Response.json(
            200,
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": [_strip_type(o) for o in items],
            },
        )

    def _selected(
        self, req: Request, rt: ResourceType, namespace: str | None, *, paginate: bool
    ) -> tuple[list[Obj], dict[str, Any]]:
        limit = req.query.get("limit")
        try:
            limit_n = int(limit) if limit else None
        except ValueError:
            raise bad_request(f"limit: invalid value {limit!r}") from None
        return self.store.list(
            rt.plural,
            namespace,
            labels=parse_label_selector(req.query.get("labelSelector")),
            fields=parse_field_selector(req.query.get("fieldSelector"), rt.plural),
            limit=limit_n if paginate else None,
            continue_token=req.query.get("continue") if paginate else None,
        )

    # ------------------------------------------------------------ verbs

    def _list(self, req: Request, rt: ResourceType, namespace: str | None) -> Response:
        with self.store:
            items, meta = self._selected(req, rt, namespace, paginate=True)
            return self._render(req, rt, items, meta, single=False)

    def _get(self, req: Request, rt: ResourceType, namespace: str | None, name: str) -> Response:
        with self.store:
            obj = self.store.get(rt.plural, namespace, name)
            return self._render(req, rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}, single=True)

    def _create(self, req: Request, rt: ResourceType, namespace: str | None) -> Response:
        body = self._body(req)
        created = self.store.create(rt.plural, body, namespace, dry_run=self._dry_run(req))
        return Response.json(201, created)

    def _update(
        self, req: Request, rt: ResourceType, namespace: str | None, name: str, subresource: str | None = None
    ) -> Response:
        body = self._body(req)
        updated = self.store.update(
            rt.plural, body, namespace, name, subresource=subresource, dry_run=self._dry_run(req)
        )
        return Response.json(200, updated)

    def _patch(
        self, req: Request, rt: ResourceType, namespace: str | None, name: str, subresource: str | None = None
    ) -> Response:
        content_type = req.headers.get("content-type", "")
        if content_type.split(";")[0].strip() not in PATCH_TYPES:
            raise unsupported_media_type(content_type)
        with self.store:
            current = self.store.get(rt.plural, namespace, name)
            patched = apply_patch(content_type, current, req.body)
            updated = self.store.update(
                rt.plural, patched, namespace, name, subresource=subresource, dry_run=self._dry_run(req)
            )
        return Response.json(200, updated)

    def _delete_options(self, req: Request) -> tuple[dict[str, Any], bool, str | None]:
        options = self._body(req) if req.body.strip() else {}
        if not isinstance(options, dict):
            raise bad_request("DeleteOptions must be a JSON object")
        propagation = req.query.get("propagationPolicy") or options.get("propagationPolicy")
        if options.get("orphanDependents") is True or req.query.get("orphanDependents") == "true":
            propagation = "Orphan"
        return options.get("preconditions") or {}, self._dry_run(req, options), propagation

    def _delete(self, req: Request, rt: ResourceType, namespace: str | None, name: str) -> Response:
        preconditions, dry_run, propagation = self._delete_options(req)
        old = self.store.delete(
            rt.plural, namespace, name, dry_run=dry_run, preconditions=preconditions, propagation=propagation
        )
        if rt in (PODS, NAMESPACES):  # these answer with the object (graceful deletion upstream)
            return Response.json(200, old)
        details = {"name": name, "kind": rt.plural, "uid": old["metadata"]["uid"]}
        if rt.group:
            details["group"] = rt.group
        return Response.json(
            200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        )

    def _delete_collection(self, req: Request, rt: ResourceType, namespace: str | None) -> Response:
        _, dry_run, propagation = self._delete_options(req)
        with self.store:
            items, meta = self._selected(req, rt, namespace, paginate=False)
            for obj in items:
                self.store.delete(
                    rt.plural,
                    obj["metadata"].get("namespace"),
                    obj["metadata"]["name"],
                    dry_run=dry_run,
                    propagation=propagation,
                )
        return Response.json(
            200,
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": [_strip_type(o) for o in items],
            },
        )

    def _watch(self, req: Request, rt: ResourceType, namespace: str | None, name: str | None) -> Response:
        fields = parse_field_selector(req.query.get("fieldSelector"), rt.plural)
        if name is not None:  # /watch/namespaces/ns/kind/name: the deprecated single-object watch
            by_name = fields
            fields = lambda o: o["metadata"]["name"] == name and by_name(o)  # noqa: E731
        timeout = float(req.query.get("timeoutSeconds") or 1800)
        as_, _ = _accept(req.headers)
        watch_req = WatchRequest(
            rt,
            namespace,
            parse_label_selector(req.query.get("labelSelector")),
            fields,
            req.query.get("resourceVersion"),
            timeout,
            req.query.get("sendInitialEvents", "").lower() == "true",
            req.query.get("allowWatchBookmarks", "").lower() == "true",
            req.query.get("includeObject", "Metadata") if as_ == "Table" else None,
        )
        return Response(200, stream=stream(self.store, watch_req, self.stopping, req.alive), content_type=JSON)

    def _subresource(self, req: Request, rt: ResourceType, namespace: str | None, name: str, sub: str) -> Response:
        if sub not in rt.subresources:
            raise path_not_found()
        method = req.method
        if sub == "status":
            if method == "GET":
                return self._get(req, rt, namespace, name)
            if method == "PUT":
                return self._update(req, rt, namespace, name, "status")
            if method == "PATCH":
                return self._patch(req, rt, namespace, name, "status")
        elif sub == "scale":
            if method == "GET":
                return Response.json(200, subresources.scale_of(self.store.get(rt.plural, namespace, name)))
            if method == "PUT":
                return Response.json(
                    200,
                    subresources.update_scale(
                        self.store, rt.plural, namespace or "", name, self._body(req), dry_run=self._dry_run(req)
                    ),
                )
            if method == "PATCH":
                content_type = req.headers.get("content-type", "")
                if content_type.split(";")[0].strip() not in PATCH_TYPES:
                    raise unsupported_media_type(content_type)
                return Response.json(
                    200,
                    subresources.patch_scale(
                        self.store, rt.plural, namespace or "", name, content_type, req.body, dry_run=self._dry_run(req)
                    ),
                )
        elif sub == "log" and method == "GET":
            text_type = "text/plain"
            if req.query.get("follow", "").lower() in ("true", "1"):
                chunks = subresources.follow_log(
                    self.store, self.logs, namespace or "", name, req.query, self.stopping, req.alive
                )
                return Response(200, stream=chunks, content_type=text_type)
            text = subresources.read_log(self.store, self.logs, namespace or "", name, req.query)
            return Response(200, text.encode(), text_type)
        return self._no_method()

    def _sandbox_logs(self, req: Request, namespace: str) -> Response:
        if req.method != "POST":
            return self._no_method()
        try:  # our own endpoint: any Content-Type, so a bare curl -d works
            body = json.loads(req.body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding request body: {exc}") from None
        lines = subresources.parse_lines(body)
        mode = (body.get("mode") or req.query.get("mode") or "all").lower()
        if mode not in ("all", "round-robin"):
            raise bad_request('mode must be "all" or "round-robin"')
        pods = self.appender.append(
            namespace,
            parse_label_selector(req.query.get("labelSelector")),
            lines,
            container=req.query.get("container"),
            spread=mode == "round-robin",
        )
        return Response.json(200, {"pods": pods, "lines": len(lines), "mode": mode})
