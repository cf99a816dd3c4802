"""Event recording the way client-go's recorder does it: core/v1 Events named
``<object>.<hex nanoseconds>``, repeats of the same event folded into ``count`` and
``lastTimestamp`` (the event correlator's aggregation, simplified to exact repeats)."""

from __future__ import annotations

import copy
from typing import Any

from .store import Obj, Store
from .strategy import rfc3339

_MAX_EVENTS = 5000  # the apiserver expires events after an hour; this bounds memory instead


class EventRecorder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen: dict[tuple[str, ...], str] = {}

    def record(
        self,
        obj: Obj,
        type_: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (namespace, meta.get("uid", ""), type_, reason, message, component, field_path or "")
        now = self.store.clock()
        with self.store:
            name = self._seen.get(key)
            existing = self.store.try_get("events", namespace, name) if name else None
            if existing is not None:
                event = copy.deepcopy(existing)
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = rfc3339(now)
                self.store.update("events", event, namespace)
                return
            if self.store.try_get("namespaces", None, namespace) is None:
                return
            involved: dict[str, Any] = {
                "kind": obj.get("kind"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": obj.get("apiVersion"),
                "resourceVersion": meta.get("resourceVersion"),
            }
            if field_path:
                involved["fieldPath"] = field_path
            source: dict[str, str] = {"component": component}
            if host:
                source["host"] = host
            event = {
                "metadata": {"name": f"{meta['name']}.{int(now * 1e9):x}", "namespace": namespace},
                "involvedObject": {k: v for k, v in involved.items() if v},
                "reason": reason,
                "message": message,
                "source": source,
                "firstTimestamp": rfc3339(now),
                "lastTimestamp": rfc3339(now),
                "count": 1,
                "type": type_,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": host or "",
            }
            while self.store.try_get("events", namespace, event["metadata"]["name"]) is not None:
                event["metadata"]["name"] += "0"
            created = self.store.create("events", event, namespace)
            self._seen[key] = created["metadata"]["name"]
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest events in batches once over the cap (sorting on every event would be slow)."""
        if self.store.count("events") <= _MAX_EVENTS + _MAX_EVENTS // 10:
            return
        events = sorted(self.store.objects("events"), key=lambda e: e.get("lastTimestamp") or "")
        for event in events[: len(events) - _MAX_EVENTS]:
            self.store.delete("events", event["metadata"]["namespace"], event["metadata"]["name"])
        live = {(e["metadata"]["namespace"], e["metadata"]["name"]) for e in self.store.objects("events")}
        self._seen = {k: v for k, v in self._seen.items() if (k[0], v) in live}
