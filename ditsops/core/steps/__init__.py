"""Registry of step kinds. Every module in this package defines and registers kinds;
adding one (promql, kube, http) is adding a module here, with no change to the engine."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from ditsops.core.steps.base import StepKind

# A kind of any spec: each kind's spec type is its own business (it reads it back with
# spec_of); the registry and the engine only call the kind's spec-free methods.
AnyKind = StepKind[Any]
KindT = TypeVar("KindT", bound=AnyKind)

_REGISTRY: dict[str, AnyKind] = {}
_loaded = False


def register(cls: type[KindT]) -> type[KindT]:
    kind = cls()
    _REGISTRY[kind.registry_key] = kind
    return cls


def all_kinds() -> dict[str, AnyKind]:
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return _REGISTRY


def kind_of(registry_key: str) -> AnyKind:
    return all_kinds()[registry_key]


def selector_keys() -> set[str]:
    """The YAML keys that choose a step's kind."""
    return {kind.key for kind in all_kinds().values()}
