"""Shared test helpers: binaries that must exist, and the skip-locally / fail-in-CI rule."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str, install_hint: str, *, search: list[str] | None = None) -> Path:
    """Path of a service binary; skips locally when absent (saying how to install it), fails in CI."""
    for directory in search or []:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} is not installed: {install_hint}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
