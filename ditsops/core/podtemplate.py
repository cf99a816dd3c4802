"""Pod templates compared as kubectl compares them (polymorphichelpers/rollback.go's
equalIgnoreHash): a rollback to the template already running is skipped, not applied."""

from __future__ import annotations

import copy
from typing import Any

from ditsops.core.kube import HASH_LABEL


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """The template without its pod-template-hash label (the ReplicaSet's, not the deployment's)."""
    clean = copy.deepcopy(template)
    labels = clean.get("metadata", {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return clean


def _semantic(value: Any) -> Any:
    """The template as kubectl compares it: decoded into Go structs, where a null, an empty
    map or list and a missing key are the same zero value (apimachinery's Semantic.DeepEqual
    treats nil and empty alike). kubectl sends templates with `creationTimestamp: null`;
    a server that stores the JSON as sent would otherwise never match again."""
    if isinstance(value, dict):
        cleaned = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def same_template(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """kubectl's equalIgnoreHash: equal but for the pod-template-hash label."""
    return bool(_semantic(without_hash(a)) == _semantic(without_hash(b)))
