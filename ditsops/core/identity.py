"""Who the engineer is, for records, leases and incidents: the `user` setting (profile key,
DITSOPS_USER), else user@host. Light on purpose: every command that reads its settings
sets it (cli/common.py), and that must not cost the run record's imports."""

from __future__ import annotations

import os
import re

MAX_IDENTITY = 100
_IDENTITY: list[str] = []  # the `user` setting, once the cli has read it (set_identity)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\s]+")


def set_identity(name: str | None) -> None:
    """The engineer's name from the settings (`user` profile key, DITSOPS_USER)."""
    cleaned = _clean(name or "")
    _IDENTITY[:] = [cleaned] if cleaned else []


def _clean(name: str) -> str:
    """One line, bounded: a name goes into every record line and every listing."""
    return _UNPRINTABLE.sub(" ", name).strip()[:MAX_IDENTITY]


def who() -> str:
    """The engineer behind a decision: the `user` setting, else DITSOPS_USER, else user@host."""
    if _IDENTITY:
        return _IDENTITY[0]
    named = _clean(os.environ.get("DITSOPS_USER", ""))
    if named:
        return named
    import getpass
    import socket

    try:
        user = os.environ.get("USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises several kinds when no user is known
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
