"""The shape of what the Kubernetes API answers, checked at the boundary like Prometheus'.

A proxy, an API server of another version or anyone between can answer well-formed JSON
of the wrong shape: a list page without `items`, a Deployment whose `spec.replicas` is
text, a `metadata` that is a list. Every object the client returns passes through here
first, so such an answer is one line naming the place (`the Kubernetes API answered an
unexpected document: deployments.apps "x": spec.template is not an object`), exit 4,
instead of a KeyError, TypeError or AttributeError in core. Only the fields ditsops
reads are checked; the rest of an object passes untouched (JSON patches need it whole).

A schema is a dict of field -> kind; a key written "!name" is required. Kinds: the
strings below, a nested dict (an object), or a one-item list (a list of that kind).
"""

from __future__ import annotations

from typing import Any

from ditsops.clients.shapes import UnexpectedAnswer, _At

SERVICE = "the Kubernetes API"
TEXT, INT, BOOL, TIME, LABELS, OBJECT = "text", "int", "bool", "time", "labels", "object"

_SELECTOR = {
    "matchLabels": LABELS,
    "matchExpressions": [{"!key": TEXT, "!operator": TEXT, "values": [TEXT]}],
}
_CONTAINER = {"!name": TEXT, "image": TEXT, "env": [{"!name": TEXT, "value": TEXT}]}
_TEMPLATE = {"metadata": {"labels": LABELS, "annotations": LABELS}, "!spec": {"!containers": [_CONTAINER]}}
_METADATA = {
    "!name": TEXT,
    "namespace": TEXT,
    "uid": TEXT,
    "resourceVersion": TEXT,
    "generation": INT,
    "creationTimestamp": TIME,
    "deletionTimestamp": TIME,
    "labels": LABELS,
    "annotations": LABELS,
    "ownerReferences": [{"uid": TEXT, "name": TEXT, "kind": TEXT, "controller": BOOL}],
}
_JOB_POD = {"spec": {"containers": [{**_CONTAINER, "command": [TEXT], "args": [TEXT]}]}}
_REPLICAS = {"replicas": INT, "updatedReplicas": INT, "readyReplicas": INT, "availableReplicas": INT}
_CONDITIONS = [{"type": TEXT, "status": TEXT, "reason": TEXT, "message": TEXT}]

SCHEMAS: dict[str, dict[str, Any]] = {
    "deployments": {
        "!metadata": _METADATA,
        "!spec": {"replicas": INT, "paused": BOOL, "selector": _SELECTOR, "!template": _TEMPLATE},
        "status": {**_REPLICAS, "observedGeneration": INT, "conditions": _CONDITIONS},
    },
    "replicasets": {
        "!metadata": _METADATA,
        "!spec": {"replicas": INT, "selector": _SELECTOR, "!template": _TEMPLATE},
        "status": _REPLICAS,
    },
    "pods": {
        "!metadata": _METADATA,
        "spec": {"containers": [_CONTAINER], "nodeName": TEXT},
        "status": {
            "phase": TEXT,
            "reason": TEXT,
            "startTime": TIME,
            "containerStatuses": [
                {"name": TEXT, "ready": BOOL, "restartCount": INT, "state": OBJECT, "lastState": OBJECT}
            ],
        },
    },
    "events": {
        "!metadata": _METADATA,
        "involvedObject": {"name": TEXT, "kind": TEXT, "namespace": TEXT},
        "type": TEXT,
        "reason": TEXT,
        "message": TEXT,
        "count": INT,
        "lastTimestamp": TIME,
        "eventTime": TIME,
    },
    "jobs": {
        "!metadata": _METADATA,
        "spec": {"completions": INT, "template": _JOB_POD},
        "status": {"conditions": _CONDITIONS, "active": INT, "succeeded": INT, "failed": INT},
    },
    "cronjobs": {
        "!metadata": {**_METADATA, "!uid": TEXT},
        "spec": {
            "jobTemplate": {"metadata": {"labels": LABELS, "annotations": LABELS}, "spec": {"template": _JOB_POD}},
            "suspend": BOOL,
        },
    },
    "leases": {
        "!metadata": _METADATA,
        "spec": {
            "holderIdentity": TEXT,
            "leaseDurationSeconds": INT,
            "acquireTime": TIME,
            "renewTime": TIME,
            "leaseTransitions": INT,
        },
    },
}
SUBRESOURCES: dict[str, dict[str, Any]] = {
    "scale": {"!metadata": _METADATA, "spec": {"replicas": INT}, "status": {"replicas": INT}},
}


def kube_object(body: dict[str, Any], resource: str, what: str, subresource: str | None = None) -> dict[str, Any]:
    """One object as GET, PATCH, PUT or POST returned it."""
    schema = SUBRESOURCES.get(subresource or "") if subresource else SCHEMAS.get(resource)
    if schema is not None:
        _check(_At(SERVICE, what), body, schema)
    return body


def kube_page(body: dict[str, Any], resource: str, what: str) -> tuple[list[dict[str, Any]], str | None]:
    """A list page: (items, continue token or None). A document without `items` is not a
    list (a single object, a Status): refused, never read as an empty list."""
    at = _At(SERVICE, what)
    if "items" not in body:
        raise at["items"].fail("a list (the answer is not a list)")
    items = at["items"].list(body["items"] if body["items"] is not None else [])
    metadata = at["metadata"].object(body.get("metadata") or {})
    token = at["metadata"]["continue"].text(metadata.get("continue"), optional=True)
    schema = SCHEMAS.get(resource)
    for index, item in enumerate(items):
        at["items"][index].object(item)
        if schema is not None:
            _check(at["items"][index], item, schema)
    return items, token or None


def _check(at: _At, value: Any, kind: Any) -> None:
    if isinstance(kind, dict):
        at.object(value)
        for key, inner in kind.items():
            name = key.lstrip("!")
            if name not in value:
                if key.startswith("!"):
                    raise UnexpectedAnswer(SERVICE, f"{at[name].path} is missing")
                continue
            _check(at[name], value[name], inner)
    elif isinstance(kind, list):
        for index, item in enumerate(at.list(value)):
            _check(at[index], item, kind[0])
    elif kind == TEXT:
        at.text(value)
    elif kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise at.fail("a whole number")
    elif kind == BOOL:
        if not isinstance(value, bool):
            raise at.fail("true or false")
    elif kind == TIME:
        at.time(value)  # absent or null allowed: a pod template's creationTimestamp is null
    elif kind == LABELS:
        at.labels(value, optional=False)
    elif kind == OBJECT:
        at.object(value)
