"""Named SQL, one file each, read by name.

The files beside this module are read-only diagnostics: a runbook's `sql:` step and the
`db` read commands reach only these, and they pass the diagnostic rules of
ditsops.base.sqlguard. The SQL of destructive action kinds (terminate/cancel backends)
lives in `actions/`, reached only through `load_action` by the action that owns it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent
_ACTIONS = _HERE / "actions"


@cache
def load(name: str) -> str:
    """A read-only diagnostic by name (never an action's SQL)."""
    return _read(_HERE, name)


@cache
def load_action(name: str) -> str:
    """The SQL of a destructive action kind; never reachable from a runbook's `sql:` step."""
    return _read(_ACTIONS, name)


def _read(directory: Path, name: str) -> str:
    if not name.isidentifier():
        raise KeyError(name)
    path = directory / f"{name}.sql"
    if not path.is_file():
        raise KeyError(name)
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    """The read-only diagnostics a `sql:` step may name."""
    return sorted(p.stem for p in _HERE.glob("*.sql"))
