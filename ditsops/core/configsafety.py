"""What a config file and the environment may do to the settings, and what they must say.

A config file names the databases and credentials ditsops acts with, so it is trusted
only as far as its owner: one that another user owns (root aside) or may write is refused
(exit 2), as ssh refuses such a config; one that others may read while it holds a
password or token is used with a warning. Settings that quietly weaken a safety are said
out loud: the environment turning a production profile off, a password on the command
line (`ps` shows it to every user).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ditsops.base.errors import ConfigError
from ditsops.base.secrets import password_of, userinfo_of

_SECRET_KEYS = ("prometheus_token", "http_password")
_DSN_KEYS = ("dsn", "diagnostics_dsn")
_URL_KEYS = ("prometheus_url", "alertmanager_url", "dits_url")


def check_owner_and_mode(path: Path) -> os.stat_result:
    """The file's status; ConfigError when another user owns it or may write it."""
    try:
        status = path.stat()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    if status.st_uid not in (os.getuid(), 0):
        raise ConfigError(f"{path}: owned by another user (uid {status.st_uid}); ditsops reads only your own config")
    mode = stat.S_IMODE(status.st_mode)
    # Group-writable is someone else's write too, unless the group is this user's own.
    if mode & stat.S_IWOTH or (mode & stat.S_IWGRP and status.st_gid != os.getgid()):
        raise ConfigError(f"{path}: writable by other users (mode {mode:04o}); fix it with: chmod go-w {path}")
    # A directory others may write lets them put another file in its place (unless sticky, like /tmp).
    directory = path.resolve().parent
    folder = stat.S_IMODE(directory.stat().st_mode)
    if folder & stat.S_IWOTH and not folder & stat.S_ISVTX:
        raise ConfigError(
            f"{path}: its directory {directory} is writable by other users (mode {folder:04o}); "
            f"fix it with: chmod o-w {directory}"
        )
    return status


def readable_secrets_warning(path: Path, status: os.stat_result, config: Mapping[str, Any]) -> str | None:
    """A warning when others may read a file that holds a password or token."""
    mode = stat.S_IMODE(status.st_mode)
    if not mode & (stat.S_IROTH | stat.S_IRGRP) or not holds_secrets(config):
        return None
    return f"{path} holds passwords or tokens and other users may read it (mode {mode:04o}): chmod 600 {path}"


def holds_secrets(config: Mapping[str, Any]) -> bool:
    profiles = config.get("profiles")
    tables = [config, *(profiles.values() if isinstance(profiles, dict) else [])]
    for table in tables:
        if not isinstance(table, dict):
            continue
        if any(table.get(key) for key in _SECRET_KEYS):
            return True
        if any(isinstance(table.get(key), str) and password_of(table[key]) for key in _DSN_KEYS):
            return True
        for key in _URL_KEYS:
            written = userinfo_of(table[key]) if isinstance(table.get(key), str) else None
            if written and written[1]:
                return True
    return False


def setting_warnings(
    profile: str | None, values: Mapping[str, Any], sources: Mapping[str, str], profiled: bool
) -> list[str]:
    """Warnings about settings that weaken a safety without a word.

    `profiled`: the chosen profile said `production = true` before the environment spoke."""
    warnings = []
    if profiled and values.get("production") is False and sources.get("production", "").startswith("environment"):
        warnings.append(
            f"DITSOPS_PRODUCTION turns production off for profile {profile}: destructive steps "
            "will not ask for the target's name"
        )
    for key in _DSN_KEYS:
        if sources.get(key) == "option" and password_of(values.get(key)):
            warnings.append(
                "--dsn carries a password, which every user on this machine can read in `ps`: "
                "use DITSOPS_DSN, ~/.pgpass or PGPASSWORD instead"
            )
    return warnings
