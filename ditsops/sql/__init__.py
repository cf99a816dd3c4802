"""Named SQL diagnostics, one file each, read by name."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def load(name: str) -> str:
    path = Path(__file__).with_name(f"{name}.sql")
    if not path.is_file():
        raise KeyError(name)
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("*.sql"))
