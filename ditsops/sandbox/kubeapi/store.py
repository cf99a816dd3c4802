"""The object store: every object of every resource, one resourceVersion counter.

Stored objects are never mutated in place: a write replaces the dict, so readers may hold
references (list snapshots for pagination, watch history) without copying. Callers that
want to change an object deep-copy it first.

Writes are serialized by one re-entrant lock; the controller holds it for a whole pass so
its reads and writes see one consistent state, like a single etcd transaction would.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any

from . import strategy
from .errors import ApiError, already_exists, bad_request, conflict, expired, namespace_not_found, not_found
from .resources import BY_PLURAL, NAMESPACES, RESOURCES, ResourceType
from .selectors import LabelSelector

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

_SNAPSHOT_LIMIT = 64  # paginated lists kept for continue tokens
_SNAPSHOT_TTL = 300.0  # seconds; etcd compacts after about five minutes too
_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


class WatchEvent:
    __slots__ = ("rv", "type", "plural", "obj", "old")

    def __init__(self, rv: int, type_: str, plural: str, obj: Obj, old: Obj | None) -> None:
        self.rv, self.type, self.plural, self.obj, self.old = rv, type_, plural, obj, old


class Store:
    def __init__(self, clock: Callable[[], float] = time.time, watch_history: int = 50_000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.clock = clock
        self._rv = 1
        self._data: dict[str, dict[Key, Obj]] = {rt.plural: {} for rt in RESOURCES}
        self._history: deque[WatchEvent] = deque(maxlen=watch_history)
        self._snapshots: OrderedDict[str, tuple[float, list[Obj], int]] = OrderedDict()
        self._snapshot_ids = itertools.count(1)
        self.on_write: list[Callable[[], None]] = []

    # ------------------------------------------------------------ reading

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def try_get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        return self._data[plural].get((namespace or "", name))

    def get(self, plural: str, namespace: str | None, name: str) -> Obj:
        obj = self.try_get(plural, namespace, name)
        if obj is None:
            raise not_found(BY_PLURAL[plural], name)
        return obj

    def count(self, plural: str) -> int:
        return len(self._data[plural])

    def objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """All objects of a resource (in one namespace if given), in key order."""
        with self.lock:
            items = self._data[plural]
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            return [items[k] for k in keys]

    def list(
        self,
        plural: str,
        namespace: str | None = None,
        *,
        labels: LabelSelector | None = None,
        fields: Callable[[Obj], bool] | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> tuple[list[Obj], dict[str, Any]]:
        """Items and list metadata (resourceVersion, continue, remainingItemCount).

        A paginated list is served from a snapshot taken by its first page, so every page
        is consistent with the first one's resourceVersion, as etcd does it."""
        with self.lock:
            if continue_token:
                snap_id, offset, list_rv = _decode_continue(continue_token)
                entry = self._snapshots.get(snap_id)
                if entry is None:
                    raise expired(_EXPIRED_CONTINUE)
                matched = entry[1]
            else:
                offset, list_rv = 0, self._rv
                matched = [
                    o
                    for o in self.objects(plural, namespace)
                    if (labels is None or labels.matches(o["metadata"].get("labels"))) and (fields is None or fields(o))
                ]
                snap_id = None
            meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if not limit or limit <= 0 or offset + limit >= len(matched):
                return matched[offset:], meta
            if snap_id is None:
                snap_id = str(next(self._snapshot_ids))
                self._snapshots[snap_id] = (self.clock(), matched, list_rv)
                self._expire_snapshots()
            end = offset + limit
            meta["continue"] = _encode_continue(snap_id, end, list_rv)
            meta["remainingItemCount"] = len(matched) - end
            return matched[offset:end], meta

    def _expire_snapshots(self) -> None:
        now = self.clock()
        while self._snapshots and (
            len(self._snapshots) > _SNAPSHOT_LIMIT or next(iter(self._snapshots.values()))[0] < now - _SNAPSHOT_TTL
        ):
            self._snapshots.popitem(last=False)

    def history_since(self, rv: int) -> list[WatchEvent]:
        """Changes after rv, for a watch; 410 Expired when rv is older than the history."""
        with self.lock:
            if self._history and rv < self._history[0].rv - 1:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({self._history[0].rv - 1})")
            newer: list[WatchEvent] = []
            for event in reversed(self._history):  # newest first: stop at the first one already seen
                if event.rv <= rv:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    # ------------------------------------------------------------ writing

    def _record(self, type_: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        self._history.append(WatchEvent(self._rv, type_, rt.plural, obj, old))
        self.changed.notify_all()
        for callback in self.on_write:
            callback()

    def _stamp(self, obj: Obj) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        return obj

    def create(self, plural: str, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        rt = BY_PLURAL[plural]
        with self.lock:
            obj = copy.deepcopy(obj)
            ns = namespace if namespace is not None else (obj.get("metadata") or {}).get("namespace")
            if rt.namespaced and self.try_get("namespaces", None, ns or "") is None:
                raise namespace_not_found(ns or "")
            obj = strategy.prepare_for_create(rt, obj, ns if rt.namespaced else None, self.clock())
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if key in self._data[plural]:
                raise already_exists(rt, key[1])
            if dry_run:
                return obj
            self._data[plural][key] = self._stamp(obj)
            self._record("ADDED", rt, obj, None)
            return obj

    def update(
        self,
        plural: str,
        obj: Obj,
        namespace: str | None = None,
        name: str | None = None,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Replace an object (PUT). A stale metadata.resourceVersion is a 409 Conflict; an
        update that changes nothing keeps the resourceVersion, like etcd's no-op guard."""
        rt = BY_PLURAL[plural]
        with self.lock:
            obj = copy.deepcopy(obj)
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            if not isinstance(meta, dict):
                raise bad_request("the body of the request must be a JSON object with object metadata")
            ns = namespace if namespace is not None else meta.get("namespace")
            name = name or meta.get("name", "")
            old = self.get(plural, ns if rt.namespaced else None, name)
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            obj = strategy.prepare_for_update(rt, obj, old, subresource)
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if obj == old or dry_run:
                return obj
            self._data[plural][_key(obj)] = self._stamp(obj)
            self._record("MODIFIED", rt, obj, old)
            return obj

    def delete(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        preconditions: dict[str, Any] | None = None,
        propagation: str | None = None,
    ) -> Obj:
        """Delete an object now (no graceful termination) and cascade to its dependents
        synchronously, the garbage collector's Background policy; Orphan unlinks them."""
        rt = BY_PLURAL[plural]
        with self.lock:
            old = self.get(plural, namespace if rt.namespaced else None, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise conflict(
                    rt,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, "
                    f"UID in object meta: {old['metadata']['uid']}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise conflict(
                    rt,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: "
                    f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                    f"{old['metadata']['resourceVersion']}",
                )
            if dry_run:
                return old
            self._remove(rt, old)
            if rt is NAMESPACES:
                for other in RESOURCES:
                    for obj in self.objects(other.plural, name) if other.namespaced else []:
                        self._remove(other, obj)
            else:
                self._cascade(old["metadata"]["uid"], orphan=propagation == "Orphan")
            return old

    def _remove(self, rt: ResourceType, obj: Obj) -> None:
        if self._data[rt.plural].pop(_key(obj), None) is None:
            return
        gone = copy.deepcopy(obj)
        self._stamp(gone)
        self._record("DELETED", rt, gone, obj)

    def _cascade(self, owner_uid: str, *, orphan: bool) -> None:
        for rt in RESOURCES:
            for obj in list(self._data[rt.plural].values()):
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == owner_uid for ref in refs):
                    continue
                remaining = [ref for ref in refs if ref.get("uid") != owner_uid]
                if remaining or orphan:
                    changed = copy.deepcopy(obj)
                    changed["metadata"]["ownerReferences"] = remaining
                    if not remaining:
                        del changed["metadata"]["ownerReferences"]
                    self._data[rt.plural][_key(obj)] = self._stamp(changed)
                    self._record("MODIFIED", rt, changed, obj)
                else:
                    self._remove(rt, obj)
                    self._cascade(obj["metadata"]["uid"], orphan=False)

    def __enter__(self) -> Store:
        """``with store:`` holds the lock across several operations."""
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def _key(obj: Obj) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _encode_continue(snap_id: str, offset: int, rv: int) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "snap": snap_id, "offset": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return str(data["snap"]), int(data["offset"]), int(data["rv"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from None


def copy_all(objs: Iterable[Obj]) -> list[Obj]:
    return [copy.deepcopy(o) for o in objs]
