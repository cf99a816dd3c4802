"""The Dits simulator's faults and the control file that switches them on and off.

Control mechanism: a small JSON file, `{"faults": ["error-spike", "latency"],
"requested_at": {"error-spike": 1712000000.5, ...}}`, that the simulator re-reads on every
tick (4 times a second). `requested_at` (Unix time) tells one request from the next: a fault
that a fix ended (simfixes.py) stays listed until cleared, and injecting it again, even as
a remove and re-add between two ticks, gives it a new time, which arms it again. A file rather than an HTTP endpoint
because the service-down fault closes the simulator's listener, and the switch must
still work while nothing answers on the port. Writers replace the file atomically
(write a temporary file, then rename) so the simulator never reads half a document; a
missing file means no faults.

`ditsops sandbox fault NAME` is `set_fault(path, NAME)`; `--clear` is `clear_faults(path)`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from ditsops.base.errors import UsageError

# Each fault makes exactly one alert of runbooks/alerts/dits.rules.yml fire (sandbox rules).
FAULT_ALERTS: dict[str, str] = {
    "error-spike": "HighErrorRate",
    "service-down": "ServiceDown",
    "db-exhaustion": "DatabaseConnectionsExhausted",
    "latency": "HighLatency",
    "disk-low": "LowDiskSpace",
    "memory-high": "HighMemoryUsage",
    "gc-stalled": "GCNotRunning",
    "lock-contention": "HighLockContention",
    "traffic-spike": "UnusualTrafficSpike",
    "large-upload": "LargeUpload",
}
FAULTS: tuple[str, ...] = tuple(FAULT_ALERTS)

FAULT_DESCRIPTIONS: dict[str, str] = {
    "error-spike": "about 15% of API requests fail with 500; ERROR lines name a poisoned cache and stale connections",
    "service-down": "the server stops listening, so Prometheus marks it down (up == 0)",
    "db-exhaustion": "the database pool runs at 94-98% of its connections",
    "latency": "a fifth of API requests take 5-10 s (p99 over 5 s)",
    "disk-low": "the /data volume has 6% free",
    "memory-high": "the node's memory is 95% used",
    "gc-stalled": "garbage collection last completed two days ago: scheduled runs start and fail",
    "lock-contention": "a session holds a row lock six others wait for: about 40 lock contentions a second",
    "traffic-spike": "request rate ten times normal",
    "large-upload": 'a 150 GB upload is in progress (its "Push commit started" log line names repository and user)',
}


def check_fault_name(name: str) -> str:
    if name not in FAULT_ALERTS:
        raise UsageError(f"unknown sandbox fault {name!r}; known faults: {', '.join(FAULTS)}")
    return name


def read_faults(path: Path) -> frozenset[str]:
    """Active faults in the control file; no file means none. Raises ValueError on a bad document."""
    return frozenset(read_requests(path))


def read_requests(path: Path) -> dict[str, float]:
    """fault -> when it was requested (Unix time; 0.0 when the file does not say)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    document = json.loads(text) if text.strip() else {}
    if not isinstance(document, dict):
        raise ValueError("the control file must hold a JSON object")
    faults = document.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(item, str) for item in faults):
        raise ValueError('"faults" must be a list of fault names')
    times = document.get("requested_at") or {}
    if not isinstance(times, dict):
        raise ValueError('"requested_at" must map fault names to times')
    requests = {}
    for name in faults:
        when = times.get(name, 0.0)
        requests[name] = float(when) if isinstance(when, (int, float)) and not isinstance(when, bool) else 0.0
    return requests


def write_faults(path: Path, faults: frozenset[str] | set[str] | list[str] | dict[str, float]) -> None:
    """Replace the control file atomically with exactly these (validated) faults.

    A mapping gives each fault's request time; names without one are requested now.
    """
    times = dict(faults) if isinstance(faults, dict) else {}
    now = time.time()
    names = sorted({check_fault_name(name) for name in faults})
    document = {"faults": names, "requested_at": {name: times.get(name) or now for name in names}}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".faults-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def set_fault(path: Path, name: str, active: bool = True) -> frozenset[str]:
    """Switch one fault on (requested now, so a fault a fix had ended is armed again) or off,
    and leave the others as they are; returns the new set."""
    current = {key: value for key, value in read_requests(path).items() if key in FAULTS}
    if active:
        current[check_fault_name(name)] = time.time()
    else:
        current.pop(check_fault_name(name), None)
    write_faults(path, current)
    return frozenset(current)


def clear_faults(path: Path) -> None:
    write_faults(path, [])
