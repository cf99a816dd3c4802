"""What the database faults share (db-exhaustion in faults.py, lock-contention in
lockfault.py): the sandbox's cluster, the application's DSN, private files, log tails."""

from __future__ import annotations

import os
from pathlib import Path

from ditsops.sandbox.pgcluster import PgCluster
from ditsops.sandbox.state import SandboxState

POSTGRES = "postgres"  # the component's name in the sandbox state (sandbox/components.py)


def sandbox_cluster(state: SandboxState) -> PgCluster | None:
    component = state.component(POSTGRES)
    return PgCluster.from_dict(component.details) if component else None


def app_dsn(state: SandboxState, cluster: PgCluster) -> str:
    component = state.component(POSTGRES)
    if component is None or not component.details.get("app_password"):
        return cluster.dsn  # a sandbox from before the `dits` role: the load runs as postgres
    from ditsops.sandbox.components import app_dsn as role_app_dsn

    return role_app_dsn(component)


def write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def file_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "no log"
    meaningful = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(meaningful[-lines:]) or "empty log"
