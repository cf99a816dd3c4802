"""Kubernetes names checked before use (DNS-1123), so no value can reach an API path as
anything but the one object it names.

A namespace is an RFC 1123 label (lower-case letters, digits and '-', at most 63
characters, starting and ending with a letter or digit); a Deployment or CronJob name a
DNS-1123 subdomain (such labels joined by '.', at most 253 characters).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import UsageError

if TYPE_CHECKING:
    from ditsops.core.config import Settings
    from ditsops.core.model import Runbook

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
# step fields that name one Kubernetes object, and what kind of name each is
NAME_FIELDS = {"namespace": "label", "deployment": "subdomain", "cronjob": "subdomain", "name": "subdomain"}


def label_problem(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _LABEL.match(value):
        return (
            f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit)"
        )
    return None


def subdomain_problem(value: str) -> str | None:
    if len(value) > 253:
        return f"{value!r} is longer than 253 characters"
    if not value or any(label_problem(part) for part in value.split(".")):
        return (
            f"{value!r} is not a DNS-1123 name (lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit)"
        )
    return None


def check_namespace(value: str | None, origin: str = "namespace") -> None:
    """Raise UsageError unless value is empty (the context's namespace) or an RFC 1123 label."""
    if value:
        problem = label_problem(str(value))
        if problem:
            raise UsageError(f"{origin}: {problem}")


def check_run_names(runbook: Runbook, params: dict[str, Any], settings: Settings) -> None:
    """Before a run starts: every Kubernetes name its steps will use, with the parameters
    filled in, is a valid DNS-1123 name; otherwise a usage error naming step and field."""
    from ditsops.core import steps as step_kinds
    from ditsops.core.template import resolve

    check_namespace(settings.namespace, "--namespace")
    for step in runbook.steps:
        if step_kinds.kind_of(step.kind).target != "kubernetes":
            continue
        fields = getattr(step.spec, "fields", None)
        if not isinstance(fields, dict):
            continue
        for key, kind in NAME_FIELDS.items():
            if key not in fields:
                continue
            value = resolve(fields[key], params)
            if value is None or value == "":
                continue
            text = str(value)
            problem = label_problem(text) if kind == "label" else subdomain_problem(text)
            if problem:
                raise UsageError(f"step '{step.id}' {key}: {problem}")
