"""Label and field selectors with the apiserver's grammar and semantics.

Label selectors (``labels.Parse`` in apimachinery): comma-separated requirements,
each one of ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k>1``, ``k<1``. ``!=`` and ``notin`` match objects that lack the key, as upstream.

Field selectors accept ``f=v``, ``f==v`` and ``f!=v``; which fields a resource
supports is listed per resource, and anything else is the apiserver's
``field label not supported`` error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector the apiserver would reject with 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present:
            return False
        try:
            number, bound = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.op == "gt" else number < bound

    def __str__(self) -> str:  # the form labels.Selector.String() prints
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        if self.op in ("in", "notin"):
            if self.op == "in" and len(self.values) == 1:
                return f"{self.key}={self.values[0]}"
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        symbol = {"=": "=", "!=": "!=", "gt": ">", "lt": "<"}[self.op]
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a nil metav1.LabelSelector selects nothing

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(req) for req in sorted(self.requirements, key=lambda r: r.key))


_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|>|<|[^\s=!(),<>]+)")
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _check_key(key: str) -> str:
    if not _KEY.match(key) or len(key) > 317:
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r}")
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(f"unable to parse requirement: invalid label value: {value!r}")
    return value


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the ``labelSelector`` query parameter (empty selects everything)."""
    if not text or not text.strip():
        return LabelSelector()
    tokens, i, reqs = _tokens(text), 0, []

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise SelectorError(f"unable to parse requirement: unexpected end of selector {text!r}")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        tok = take()
        if tok == "!":
            reqs.append(Requirement(_check_key(take()), "!"))
        else:
            key = _check_key(tok)
            nxt = tokens[i] if i < len(tokens) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
            elif nxt in ("=", "==", "!="):
                take()
                value = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                if value:
                    take()
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (_check_value(value),)))
            elif nxt in (">", "<"):
                take()
                bound = take()
                if not bound.lstrip("-").isdigit():
                    raise SelectorError(
                        "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                reqs.append(Requirement(key, "gt" if nxt == ">" else "lt", (bound,)))
            elif nxt in ("in", "notin"):
                take()
                if take() != "(":
                    raise SelectorError(f"unable to parse requirement: found '{tokens[i - 1]}', expected: '('")
                values: list[str] = []
                while True:
                    tok = take()
                    if tok == ")":
                        break
                    if tok == ",":
                        continue
                    values.append(_check_value(tok))
                if not values and nxt == "in":
                    raise SelectorError(
                        "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"
                    )
                reqs.append(Requirement(key, nxt, tuple(values)))
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{nxt}', expected: in, notin, =, ==, !=, gt, lt"
                )
        if i < len(tokens):
            if take() != ",":
                raise SelectorError(f"unable to parse requirement: found '{tokens[i - 1]}', expected: ','")
    return LabelSelector(tuple(reqs))


def from_label_selector_object(selector: dict[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: nil selects nothing, ``{}`` everything."""
    if selector is None:
        return LabelSelector(nothing=True)
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(reqs))


def selector_string(selector: dict[str, Any] | None) -> str:
    """The string a Scale's ``status.selector`` and ``kubectl get -o wide`` show."""
    return str(from_label_selector_object(selector or {}))


# ---------------------------------------------------------------- field selectors


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


def _dig(obj: dict[str, Any], dotted: str) -> str:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    return str(node).lower() if isinstance(node, bool) else str(node)


_COMMON = ("metadata.name", "metadata.namespace")
# The field labels each resource's registry strategy exposes (GetAttrs/ToSelectableFields).
SUPPORTED_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": _COMMON
    + (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": _COMMON
    + (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "namespaces": _COMMON + ("status.phase",),
    "replicasets": _COMMON + ("status.replicas",),
    "deployments": _COMMON,
}


def _field_value(resource: str, obj: dict[str, Any], field: str) -> str:
    if resource == "events" and field == "source":
        return _dig(obj, "source.component") or _dig(obj, "reportingComponent")
    if field == "metadata.namespace" and resource == "namespaces":
        return ""
    return _dig(obj, field)


def parse_field_selector(text: str | None, resource: str) -> Callable[[dict[str, Any]], bool]:
    """Parse ``fieldSelector`` into a predicate; unknown fields are rejected like upstream."""
    if not text or not text.strip():
        return lambda obj: True
    reqs: list[FieldRequirement] = []
    for part in re.split(r"(?<!\\),", text):
        part = part.strip()
        if not part:
            continue
        match = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not match:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op = match.group(1).strip(), match.group(2)
        value = match.group(3).replace("\\,", ",").replace("\\=", "=")
        if field not in SUPPORTED_FIELDS.get(resource, _COMMON):
            raise SelectorError(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, value, op == "!="))

    def predicate(obj: dict[str, Any]) -> bool:
        for req in reqs:
            equal = _field_value(resource, obj, req.field) == req.value
            if equal == req.negate:
                return False
        return True

    return predicate
