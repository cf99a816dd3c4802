"""Watch streams: newline-delimited ``{"type": ..., "object": ...}`` events.

``kubectl rollout status`` (and ``get -w``, informers) watch with a field selector on the
name. Semantics kept from the apiserver: no resourceVersion (or "0") starts with ADDED
events for what exists now; a resourceVersion resumes after it, or yields an ERROR event
with 410 Expired when it is older than the kept history; an object that stops matching
the selectors is reported DELETED, one that starts matching ADDED; ``sendInitialEvents``
ends its initial ADDED events with the ``k8s.io/initial-events-end`` bookmark.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .resources import ResourceType
from .selectors import LabelSelector
from .store import Obj, Store
from .tables import to_table


@dataclass
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: Callable[[Obj], bool]
    resource_version: str | None
    timeout: float
    send_initial_events: bool
    bookmarks: bool
    table: str | None = None  # includeObject mode when the client asked for Table rows


def _encode(type_: str, obj: Any) -> bytes:
    return json.dumps({"type": type_, "object": obj}, separators=(",", ":")).encode() + b"\n"


def stream(store: Store, req: WatchRequest, stopping: threading.Event, alive: Callable[[], bool]) -> Iterator[bytes]:
    def matches(obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        return (
            (req.namespace is None or meta.get("namespace") == req.namespace)
            and req.labels.matches(meta.get("labels"))
            and req.fields(obj)
        )

    first_table = True

    def emit(type_: str, obj: Obj) -> bytes:
        nonlocal first_table
        if req.table is None or type_ in ("BOOKMARK", "ERROR"):
            return _encode(type_, obj)
        table = to_table(
            req.rt.plural,
            [obj],
            {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
            req.table,
            with_columns=first_table,
        )
        first_table = False
        return _encode(type_, table)

    rv = req.resource_version
    with store.lock:
        if not rv or rv == "0" or req.send_initial_events:
            start = int(store.resource_version)
            initial = [o for o in store.objects(req.rt.plural, req.namespace) if matches(o)]
        else:
            try:
                start = int(rv)
            except ValueError:
                yield _encode("ERROR", ApiError(400, "BadRequest", f"invalid resource version {rv!r}").status())
                return
            initial = []
    for obj in initial:
        yield emit("ADDED", obj)
    if req.send_initial_events and req.bookmarks:
        yield _encode(
            "BOOKMARK",
            {
                "kind": req.rt.kind,
                "apiVersion": req.rt.api_version,
                "metadata": {"resourceVersion": str(start), "annotations": {"k8s.io/initial-events-end": "true"}},
            },
        )
    deadline = time.monotonic() + req.timeout
    last = start
    while not stopping.is_set() and time.monotonic() < deadline:
        error = None
        with store.changed:  # never yield while holding the lock: a slow client would stall the store
            try:
                events = store.history_since(last)
                if not events:
                    store.changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                    events = store.history_since(last)
            except ApiError as exc:
                error = exc
        if error is not None:
            yield _encode("ERROR", error.status())
            return
        for event in events:
            last = event.rv
            if event.plural != req.rt.plural:
                continue
            now_match, old_match = matches(event.obj), matches(event.old)
            if event.type == "DELETED":
                if old_match:
                    yield emit("DELETED", event.obj)
            elif now_match and (old_match or event.type == "ADDED"):
                yield emit(event.type, event.obj)
            elif now_match:
                yield emit("ADDED", event.obj)
            elif old_match:
                yield emit("DELETED", event.obj)
        if not alive():
            return
