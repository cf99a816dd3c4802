"""Machine-readable output: one JSON document on stdout."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ditsops.render.lines import Out


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "to_json"):
        return value.to_json()
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(data, default=_default, indent=2, ensure_ascii=False)


def print_json(console: Console | Out, data: Any) -> None:
    # Written straight to the stream: rich would wrap long lines and break the JSON.
    console.file.write(to_json(data) + "\n")
    console.file.flush()
