"""The three patch formats the apiserver accepts from kubectl and client libraries.

* JSON patch (RFC 6902), ``application/json-patch+json``: ``kubectl rollout undo``.
* JSON merge patch (RFC 7386), ``application/merge-patch+json``: ``kubectl scale``.
* Strategic merge patch, ``application/strategic-merge-patch+json``: ``kubectl set env``,
  ``set image``, ``rollout restart``, ``rollout pause``. Lists of objects are merged by the
  merge key Kubernetes declares for the field (containers and env by ``name``, ...); lists
  without one are replaced, as upstream. Supported directives: ``$patch`` (replace, merge,
  delete) in maps and list items, ``$retainKeys``, ``$setElementOrder/<list>`` and
  ``$deleteFromPrimitiveList/<list>``.

The merge keys are looked up by field name rather than by Go type: every field named
``containers`` holds containers, ``env`` holds EnvVars and so on, which is true of the
workload types served here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)


class PatchError(ValueError):
    """A patch that cannot be applied (the apiserver answers 422 or 400)."""

    def __init__(self, message: str, *, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


def apply_patch(content_type: str, original: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Apply a patch body of the given media type to a copy of original."""
    media = content_type.split(";")[0].strip().lower()
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise PatchError(f"error decoding patch: {exc}", bad_request=True) from None
    if media == JSON_PATCH:
        return json_patch(original, patch)
    if media == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("merge patch must be a JSON object", bad_request=True)
        return merge_patch(original, patch)
    if media == STRATEGIC_MERGE_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("strategic merge patch must be a JSON object", bad_request=True)
        return strategic_merge_patch(original, patch)
    raise ValueError(media)


# ------------------------------------------------------------------ RFC 6902


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list, token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of bounds")
    return index


def _parent(doc: Any, tokens: list[str]) -> tuple[Any, str]:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(tokens)}")
    return node, tokens[-1]


def _get(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"doc is missing path: /{'/'.join(tokens)}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise PatchError(f"doc is missing path: /{'/'.join(tokens)}")


def _remove(doc: Any, tokens: list[str]) -> Any:
    parent, last = _parent(doc, tokens)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"doc is missing path: /{'/'.join(tokens)}")


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, last = _parent(doc, tokens)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(tokens)}")
    return doc


def json_patch(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise PatchError("json patch must be an array of operations", bad_request=True)
    doc: Any = copy.deepcopy(original)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation {op!r}", bad_request=True)
        kind, tokens = op["op"], _pointer(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {kind} needs a value", bad_request=True)
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            if not tokens:
                doc = copy.deepcopy(op["value"])
                continue
            _get(doc, tokens)  # replace requires the target to exist
            parent, last = _parent(doc, tokens)
            if isinstance(parent, list):
                parent[_index(parent, last, allow_end=False)] = copy.deepcopy(op["value"])
            else:
                parent[last] = copy.deepcopy(op["value"])
        elif kind == "move":
            value = _remove(doc, _pointer(op["from"]))
            doc = _add(doc, tokens, value)
        elif kind == "copy":
            doc = _add(doc, tokens, copy.deepcopy(_get(doc, _pointer(op["from"]))))
        elif kind == "test":
            if _get(doc, tokens) != op["value"]:
                raise PatchError(f"testing value {op['path']} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}", bad_request=True)
    if not isinstance(doc, dict):
        raise PatchError("patched document is not an object")
    return doc


# ------------------------------------------------------------------ RFC 7386


def merge_patch(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ------------------------------------------------------- strategic merge patch

# patchMergeKey of the list fields in core/v1 and apps/v1 that declare patchStrategy=merge.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid",
    "conditions": "type",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
# Primitive lists with patchStrategy=merge (set semantics instead of replace).
MERGED_PRIMITIVE_LISTS = {"finalizers"}

_DELETE = object()


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result = _merge_map(copy.deepcopy(original), copy.deepcopy(patch))
    if result is _DELETE:
        return {}
    return result


def _merge_map(original: Any, patch: dict[str, Any]) -> Any:
    directive = patch.pop("$patch", None)
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip_directives(patch)
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive} in map: {patch}")
    if not isinstance(original, dict):
        original = {}
    retain = patch.pop("$retainKeys", None)
    orders = {k.split("/", 1)[1]: patch.pop(k) for k in list(patch) if k.startswith("$setElementOrder/")}
    deletions = {k.split("/", 1)[1]: patch.pop(k) for k in list(patch) if k.startswith("$deleteFromPrimitiveList/")}
    for key, value in patch.items():
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(original.get(key), value)
            if merged is _DELETE:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(key, original.get(key), value)
        else:
            original[key] = value
    for key, values in deletions.items():
        if isinstance(original.get(key), list):
            original[key] = [v for v in original[key] if v not in values]
    for key, order in orders.items():
        if isinstance(original.get(key), list):
            original[key] = _apply_order(key, original[key], order)
    if retain is not None:
        for key in list(original):
            if key not in retain:
                del original[key]
    return original


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge_list(field: str, original: Any, patch: list[Any]) -> list[Any]:
    merge_key = MERGE_KEYS.get(field)
    if field in MERGED_PRIMITIVE_LISTS and isinstance(original, list):
        return original + [v for v in patch if v not in original]
    if merge_key is None or not all(isinstance(item, dict) for item in patch):
        return _strip_directives(patch)
    if any(item.get("$patch") == "replace" for item in patch):
        return [_strip_directives(i) for i in patch if i.get("$patch") != "replace"]
    result = [item for item in original] if isinstance(original, list) else []
    for item in patch:
        key_value = item.get(merge_key)
        if item.get("$patch") == "delete":
            result = [r for r in result if not (isinstance(r, dict) and r.get(merge_key) == key_value)]
            continue
        if key_value is None:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        for index, existing in enumerate(result):
            if isinstance(existing, dict) and existing.get(merge_key) == key_value:
                merged = _merge_map(existing, item)
                result[index] = merged
                break
        else:
            result.append(_merge_map({}, item))
    return [r for r in result if r is not _DELETE]


def _apply_order(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    """``$setElementOrder``: listed elements first in the given order, then any others
    (present on the server but unknown to the client) in their existing order."""
    merge_key = MERGE_KEYS.get(field)
    if merge_key is None:
        wanted = [o for o in order if o in items]
        return wanted + [i for i in items if i not in wanted]
    keys = [o.get(merge_key) for o in order if isinstance(o, dict)]
    by_key = {i.get(merge_key): i for i in items if isinstance(i, dict)}
    ordered = [by_key[k] for k in keys if k in by_key]
    return ordered + [i for i in items if not (isinstance(i, dict) and i.get(merge_key) in keys)]
