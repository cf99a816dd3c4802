"""The lock-contention fault, played with real PostgreSQL locks.

A load process (load.py, `lock_queue_plan`) logs in as the server's role with
application_name dits-server: one session takes a row lock and sits idle in transaction,
six more queue behind it (wait_event_type = Lock), so `ditsops db blocking` shows the
queue. The simulator counts the waiting sessions and plays the contention metrics only
while there are some (simfixes.py), so the production fix, terminating the holder's
backend (`ditsops db terminate --pid N`), lets the waiters through: they update the row,
disconnect, the load exits, and HighLockContention resolves. Seven connections of fifty:
far from db-exhaustion's 90%.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.sandbox import faultdb, load, simcontrol
from ditsops.sandbox.state import ActiveFault, SandboxState, ensure_sandbox_dir, now_iso, stop_process

NAME = "lock-contention"
READY_TIMEOUT = 30.0

_QUEUE_SQL = """
SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiters,
       min(pid) FILTER (WHERE state = 'idle in transaction') AS holder_pid,
       count(*) FILTER (WHERE state = 'idle in transaction') AS holders
FROM pg_stat_activity
WHERE application_name = %s AND query LIKE %s AND pid <> pg_backend_pid()
"""


def inject(state: SandboxState) -> ActiveFault:
    from ditsops.sandbox import simfaults

    cluster = faultdb.sandbox_cluster(state)
    if cluster is None or not cluster.is_running():
        raise DitsopsError("the sandbox's PostgreSQL is not running; restart the sandbox with: ditsops sandbox up")
    component = simfaults.simulator(state)
    control_file = Path(component.details["control_file"])
    plan = load.lock_queue_plan()
    directory = ensure_sandbox_dir()
    dsn_file = directory / f"{NAME}.dsn"
    faultdb.write_private(dsn_file, faultdb.app_dsn(state, cluster) + "\n")
    log_file = directory / f"{NAME}.log"
    with log_file.open("w", encoding="utf-8") as log_handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "ditsops.sandbox.load", "--dsn-file", str(dsn_file), *plan.to_args()],
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,  # survives the CLI and its terminal's Ctrl-C
        )
    fault = ActiveFault(
        name=NAME,
        pid=process.pid,
        started_at=now_iso(),
        cmdline_marker=f"{load.CMDLINE_MARKER} --dsn-file {dsn_file}",
        log_file=str(log_file),
        details={
            "played_by": "load",
            "plan": plan.to_dict(),
            "control_file": str(control_file),
            "lock_row": plan.lock_row,
        },
    )
    try:
        fault.details.update(_wait_for_queue(cluster, plan, process, log_file))
        simcontrol.set_fault(control_file, NAME)
        simfaults.wait_for_simulator(
            component,
            lambda document: bool(document) and NAME in document["faults"],
            f"fault {NAME} applied (sessions waiting on a lock)",
        )
    except BaseException:
        clear(state, fault)
        raise
    return fault


def _wait_for_queue(
    cluster: Any, plan: load.LoadPlan, process: subprocess.Popen[Any], log_file: Path
) -> dict[str, int]:
    deadline = time.monotonic() + READY_TIMEOUT
    seen: dict[str, Any] = {}
    with cluster.admin() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(_QUEUE_SQL, [load.APPLICATION_NAME, load.row_query_pattern(plan.lock_row)]).fetchone()
            seen = {"waiters": row[0], "holder_pid": row[1], "holders": row[2]}
            if seen["waiters"] >= plan.lock_waiters and seen["holders"] >= plan.lock_holders:
                return seen
            if process.poll() is not None:
                raise DitsopsError(
                    f"the {NAME} load exited early (code {process.returncode}): " + faultdb.file_tail(log_file)
                )
            time.sleep(0.1)
    raise DitsopsError(
        f"the {NAME} load was not established within {READY_TIMEOUT:.0f} s "
        f"(saw {seen}, wanted {plan.to_dict()}): {faultdb.file_tail(log_file)}"
    )


def clear(state: SandboxState, fault: ActiveFault) -> None:
    from ditsops.sandbox import simfaults

    stop_process(fault.pid, fault.cmdline_marker, timeout=10.0)
    (ensure_sandbox_dir() / f"{NAME}.dsn").unlink(missing_ok=True)
    control_file = Path(fault.details.get("control_file") or "")
    if control_file.parent.is_dir():
        simcontrol.set_fault(control_file, NAME, active=False)
    cluster = faultdb.sandbox_cluster(state)
    if cluster is not None and cluster.is_running():
        # Sessions the load could not close itself (killed, cancel lost) end here; only this
        # fault's, on its own row, never db-exhaustion's.
        row = int(fault.details.get("lock_row") or load.lock_queue_plan().lock_row)
        with cluster.admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND query LIKE %s AND pid <> pg_backend_pid()",
                [load.APPLICATION_NAME, load.row_query_pattern(row)],
            )
    component = state.component("simulator")
    if component is not None and component.is_alive():
        simfaults.wait_for_simulator(
            component, lambda document: document is None or NAME not in document["faults"], f"fault {NAME} cleared"
        )


def active(state: SandboxState, fault: ActiveFault) -> bool:
    """The load still holds its queue: it exits once the holder is terminated and the
    waiters got through."""
    return fault.is_alive()
