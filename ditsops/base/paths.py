"""Where ditsops keeps its files, following the XDG base directory spec."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    # The spec says relative paths in these variables are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "ditsops"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "ditsops"


def cache_dir() -> Path:
    """What ditsops may throw away and rebuild (the runbook index)."""
    return _xdg("XDG_CACHE_HOME", ".cache") / "ditsops"


def default_config_file() -> Path:
    return Path(os.environ.get("DITSOPS_CONFIG") or config_dir() / "config.toml")


def runs_dir() -> Path:
    return state_dir() / "runs"


def sandbox_dir() -> Path:
    return state_dir() / "sandbox"
