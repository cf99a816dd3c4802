"""Incidents the sandbox can cause on demand, one registry entry per fault.

Adding a fault is one `FaultKind` in `FAULTS`: an `inject(state) -> ActiveFault` that
starts whatever plays the fault and returns once the incident is visible, a
`clear(state, fault)` that undoes it completely (even if its process already died), and
optionally `active(state, fault)`, whether the incident is still going on (default: the
process playing it runs). Each fault makes exactly the alert `alert` fire.

db-exhaustion is played here (a load process holding PostgreSQL's connections);
lock-contention in lockfault.py (a load process holding a row lock and its queue); the
simulator's faults and bad-deploy in simfaults.py, imported only when one is used. `fix`
says what ends each, as in production (simfixes.py is where the simulator notices).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ditsops.base.errors import DitsopsError, UsageError
from ditsops.sandbox import faultdb, load, simcontrol
from ditsops.sandbox.pgcluster import PgCluster
from ditsops.sandbox.state import (
    ActiveFault,
    SandboxState,
    ensure_sandbox_dir,
    load_state,
    now_iso,
    save_state,
    state_lock,
    stop_process,
)

POSTGRES = faultdb.POSTGRES
LOAD_READY_TIMEOUT = 30.0
ROOM_TIMEOUT = 15.0  # for the sessions of an earlier load to leave


@dataclass(frozen=True)
class FaultKind:
    name: str
    summary: str
    alert: str  # the alert rule this fault should make fire
    inject: Callable[[SandboxState], ActiveFault]
    clear: Callable[[SandboxState, ActiveFault], None]
    active: Callable[[SandboxState, ActiveFault], bool] | None = None
    fix: str = ""  # what ends it besides `ditsops sandbox fault NAME --clear`

    def is_active(self, state: SandboxState, fault: ActiveFault) -> bool:
        return self.active(state, fault) if self.active else fault.is_alive()


@dataclass(frozen=True)
class InjectResult:
    fault: ActiveFault
    kind: FaultKind
    already_active: bool


@dataclass(frozen=True)
class ClearResult:
    cleared: list[str]  # faults that were active and are now gone
    not_active: list[str]  # asked for by name but were not active


def known_faults() -> list[str]:
    return sorted(FAULTS)


def fault_kind(name: str) -> FaultKind:
    try:
        return FAULTS[name]
    except KeyError:
        raise UsageError(f"unknown fault {name!r}; known faults: {', '.join(known_faults())}") from None


def inject(name: str) -> InjectResult:
    """Start fault `name` in the running sandbox; returns once the incident is visible."""
    kind = fault_kind(name)
    with state_lock():
        state = _require_state()
        existing = state.faults.get(name)
        if existing is not None:
            if kind.is_active(state, existing):
                return InjectResult(fault=existing, kind=kind, already_active=True)
            clear_faults(state, [name])  # it ended meanwhile: tidy up before starting anew
            save_state(state)
        fault = kind.inject(state)
        state.faults[name] = fault
        save_state(state)
        return InjectResult(fault=fault, kind=kind, already_active=False)


def clear(name: str | None = None) -> ClearResult:
    """Clear fault `name`, or every active fault when `name` is None."""
    if name is not None:
        fault_kind(name)  # an unknown name is a usage error even when nothing runs
    with state_lock():
        state = load_state()
        if state is None:
            return ClearResult(cleared=[], not_active=[name] if name else [])
        if name is not None and name not in state.faults:
            return ClearResult(cleared=[], not_active=[name])
        names = [name] if name else sorted(state.faults)
        cleared = clear_faults(state, names)
        save_state(state)
        return ClearResult(cleared=cleared, not_active=[])


def clear_faults(state: SandboxState, names: list[str]) -> list[str]:
    """Undo the named faults and drop them from `state` (the caller locks and saves)."""
    cleared = []
    for name in names:
        fault = state.faults.get(name)
        if fault is None:
            continue
        kind = FAULTS.get(name)
        if kind is not None:
            kind.clear(state, fault)
        else:  # recorded by a newer ditsops: at least stop its process
            stop_process(fault.pid, fault.cmdline_marker)
        del state.faults[name]
        cleared.append(name)
    return cleared


def _require_state() -> SandboxState:
    state = load_state()
    if state is None or POSTGRES not in state.components:
        raise DitsopsError("the sandbox is not up", hint="start it with: ditsops sandbox up")
    return state


# --- db-exhaustion ------------------------------------------------------------------

_LOAD_COUNTS_SQL = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS lock_waiters,
       count(*) FILTER (WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%%') AS sleeping,
       count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_transaction
FROM pg_stat_activity
WHERE application_name = %s AND pid <> pg_backend_pid()
"""


def _inject_db_exhaustion(state: SandboxState) -> ActiveFault:
    cluster = faultdb.sandbox_cluster(state)
    if cluster is None or not cluster.is_running():
        raise DitsopsError("the sandbox's PostgreSQL is not running; restart the sandbox with: ditsops sandbox up")
    with cluster.admin() as conn:
        max_connections = int(_scalar(conn, "SHOW max_connections"))
        reserved = int(_scalar(conn, "SHOW superuser_reserved_connections"))
    plan = load.plan_load(max_connections, reserved)
    _wait_for_room(cluster, plan.total + 1, max_connections - reserved)
    directory = ensure_sandbox_dir()
    dsn_file = directory / "db-exhaustion.dsn"
    # The load is the server: it logs in as the server's role, whose connections run out.
    faultdb.write_private(dsn_file, faultdb.app_dsn(state, cluster) + "\n")
    log_file = directory / "db-exhaustion.log"
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
        name="db-exhaustion",
        pid=process.pid,
        started_at=now_iso(),
        cmdline_marker=load.CMDLINE_MARKER,
        log_file=str(log_file),
        details={"plan": plan.to_dict(), "max_connections": max_connections},
    )
    try:
        fault.details["observed"] = _wait_for_load(cluster, plan, process, log_file)
        fault.details["role_limit"] = _limit_app_role(state, cluster, plan.total)
        _wait_for_simulator_exhausted(state)
    except BaseException:
        _clear_db_exhaustion(state, fault)
        raise
    return fault


_CLIENTS_SQL = """
SELECT coalesce(nullif(application_name, ''), usename, '?'), count(*)
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1 ORDER BY 2 DESC
"""


def _wait_for_room(cluster: PgCluster, needed: int, usable: int) -> None:
    """Wait until the server has `needed` of its `usable` (non-superuser) slots free.

    Sessions of an earlier load or run may still be on their way out (a terminated backend
    frees its slot a moment after it is signalled); a load started among them would be
    refused its first connections and fail with a message that names nobody. Refused here
    instead, naming who holds the slots.
    """
    deadline = time.monotonic() + ROOM_TIMEOUT
    with cluster.admin() as conn:
        while True:
            holders = conn.execute(_CLIENTS_SQL).fetchall()
            used = sum(count for _, count in holders)
            if usable - used >= needed:
                return
            if time.monotonic() > deadline:
                held = ", ".join(f"{name} {count}" for name, count in holders)
                raise DitsopsError(
                    f"the sandbox PostgreSQL has {usable - used} of {usable} connections free and "
                    f"db-exhaustion needs {needed}: held by {held}",
                    hint="clear the other faults first: ditsops sandbox fault --clear",
                )
            time.sleep(0.1)


def _app_role(state: SandboxState) -> str | None:
    component = state.component(POSTGRES)
    return str(component.details.get("app_user")) if component and component.details.get("app_user") else None


def _limit_app_role(state: SandboxState, cluster: PgCluster, limit: int) -> int | None:
    """Cap the server's role at `limit` connections (-1: no cap).

    Set to what the load holds once it holds it all: like a pool at its maximum, the next
    connection the server opens is refused ("too many connections for role"), so /health's
    database check fails, and terminating the load's backends frees room at once. Set only
    then, so the load itself never races the simulator for the last slot.
    """
    role = _app_role(state)
    if role is None:
        return None
    from psycopg import sql

    with cluster.admin() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(sql.Identifier(role), sql.Literal(limit)))
    return limit


def _wait_for_simulator_exhausted(state: SandboxState) -> None:
    """The simulator counts connections every 2 s; return once its pool shows exhaustion."""
    from ditsops.sandbox import simfaults
    from ditsops.sandbox.components import SIMULATOR

    component = state.component(SIMULATOR)
    if component is None or not component.is_alive():
        return
    simfaults.wait_for_simulator(
        component,
        lambda document: document is None or "db-exhaustion" in document.get("faults", []),
        "its database pool exhausted",
    )


def _wait_for_load(
    cluster: PgCluster, plan: load.LoadPlan, process: subprocess.Popen[Any], log_file: Path
) -> dict[str, int]:
    """Poll pg_stat_activity until every planned session is there, in its planned state."""
    deadline = time.monotonic() + LOAD_READY_TIMEOUT
    counts: dict[str, int] = {}
    with cluster.admin() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(_LOAD_COUNTS_SQL, [load.APPLICATION_NAME]).fetchone()
            counts = dict(zip(("total", "lock_waiters", "sleeping", "idle_in_transaction"), row, strict=True))
            if (
                counts["total"] >= plan.total
                and counts["lock_waiters"] >= plan.lock_waiters
                and counts["sleeping"] >= plan.sleeping
                and counts["idle_in_transaction"] >= plan.idle_in_transaction + plan.lock_holders
            ):
                return counts
            if process.poll() is not None:
                raise DitsopsError(
                    f"the db-exhaustion load exited early (code {process.returncode}): " + faultdb.file_tail(log_file)
                )
            time.sleep(0.1)
    raise DitsopsError(
        f"the db-exhaustion load was not established within {LOAD_READY_TIMEOUT:.0f} s "
        f"(saw {counts}, wanted {plan.to_dict()}): {faultdb.file_tail(log_file)}"
    )


def _clear_db_exhaustion(state: SandboxState, fault: ActiveFault) -> None:
    stop_process(fault.pid, fault.cmdline_marker, timeout=10.0)
    (ensure_sandbox_dir() / "db-exhaustion.dsn").unlink(missing_ok=True)
    cluster = faultdb.sandbox_cluster(state)
    if cluster is None or not cluster.is_running():
        return  # no server, no sessions left to end
    _limit_app_role(state, cluster, -1)
    # Sessions the load could not close (killed process, cancel lost) end here.
    with cluster.admin() as conn:
        deadline = time.monotonic() + 10.0
        while True:
            remaining = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                [load.APPLICATION_NAME],
            ).fetchone()[0]
            if remaining == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.1)


# --- helpers ------------------------------------------------------------------------


def _scalar(conn: Any, query: str) -> Any:
    return conn.execute(query).fetchone()[0]


# What ends each fault besides `ditsops sandbox fault NAME --clear`.
_RESTART = (
    "a restart of dits-server, new pods (ditsops --profile sandbox k8s restart dits-server, "
    "or the runbook's restart step)"
)
FIXES: dict[str, str] = {
    "error-spike": _RESTART,
    "service-down": _RESTART,
    "memory-high": _RESTART,
    "latency": "scaling dits-server out (ditsops --profile sandbox k8s scale dits-server --replicas 5); "
    "scaling back in brings it back",
    "gc-stalled": "a GC job from cronjob/dits-gc running to completion (ditsops --profile sandbox k8s create-job "
    "--from-cronjob dits-gc, or kubectl create job --from=cronjob/dits-gc gc-manual)",
    "lock-contention": "terminating the lock holder's backend (find it with ditsops --profile sandbox "
    "db blocking; ditsops --profile sandbox db terminate --pid PID)",
    "db-exhaustion": "terminating the dits-server backends (the db-connections-exhausted runbook: its hour-long "
    "queries once older than 5m, or with --set older_than=1s); raising DATABASE_POOL_SIZE lowers the pool's share",
    "bad-deploy": "rolling back (the high-error-rate runbook, ditsops k8s undo dits-server, "
    "or kubectl rollout undo deployment/dits-server)",
    "disk-low": "nothing ditsops can do: expand the /data volume",
    "traffic-spike": "nothing ditsops can do: identify the client and rate-limit it",
    "large-upload": "nothing ditsops can do: wait for the upload to finish, or talk to its owner",
}


def _simulator_fault(name: str) -> FaultKind:
    """A fault of the simulator's control file (simcontrol.py); simfaults.py plays it."""

    def inject(state: SandboxState) -> ActiveFault:
        from ditsops.sandbox import simfaults

        return simfaults.control_fault(name)[0](state)

    def clear(state: SandboxState, fault: ActiveFault) -> None:
        from ditsops.sandbox import simfaults

        simfaults.control_fault(name)[1](state, fault)

    def active(state: SandboxState, fault: ActiveFault) -> bool:
        from ditsops.sandbox import simfaults

        return simfaults.control_fault(name)[2](state, fault)

    return FaultKind(
        name=name,
        summary=f"the Dits server: {SIMULATOR_FAULT_SUMMARIES[name]}",
        alert=SIMULATOR_FAULT_ALERTS[name],
        inject=inject,
        clear=clear,
        active=active,
        fix=FIXES[name],
    )


def _inject_lock_contention(state: SandboxState) -> ActiveFault:
    from ditsops.sandbox import lockfault

    return lockfault.inject(state)


def _clear_lock_contention(state: SandboxState, fault: ActiveFault) -> None:
    from ditsops.sandbox import lockfault

    lockfault.clear(state, fault)


def _lock_contention_active(state: SandboxState, fault: ActiveFault) -> bool:
    from ditsops.sandbox import lockfault

    return lockfault.active(state, fault)


def _inject_bad_deploy(state: SandboxState) -> ActiveFault:
    from ditsops.sandbox import simfaults

    return simfaults.inject_bad_deploy(state)


def _clear_bad_deploy(state: SandboxState, fault: ActiveFault) -> None:
    from ditsops.sandbox import simfaults

    simfaults.clear_bad_deploy(state, fault)


def _bad_deploy_active(state: SandboxState, fault: ActiveFault) -> bool:
    from ditsops.sandbox import simfaults

    return simfaults.bad_deploy_active(state, fault)


# The simulator's faults, with the alert each makes fire (db-exhaustion is played above,
# by a real load on PostgreSQL, which the simulator notices by itself).
SIMULATOR_FAULT_ALERTS: dict[str, str] = {
    name: alert for name, alert in simcontrol.FAULT_ALERTS.items() if name != "db-exhaustion"
}
SIMULATOR_FAULT_SUMMARIES: dict[str, str] = {
    **simcontrol.FAULT_DESCRIPTIONS,
    "traffic-spike": simcontrol.FAULT_DESCRIPTIONS["traffic-spike"]
    + " (fires once Prometheus has more than a minute of history)",
}

FAULTS: dict[str, FaultKind] = {
    "db-exhaustion": FaultKind(
        name="db-exhaustion",
        summary="dits-server holds over 90% of PostgreSQL's connections: idle "
        "transactions, hour-long queries and sessions stuck behind a row lock; its role is at "
        "its connection limit, so its pool is exhausted and /health degraded",
        alert="DatabaseConnectionsExhausted",
        inject=_inject_db_exhaustion,
        clear=_clear_db_exhaustion,
        fix=FIXES["db-exhaustion"],
    ),
    **{name: _simulator_fault(name) for name in SIMULATOR_FAULT_ALERTS},
    # The simulator plays its metrics, but only while real sessions wait on the lock.
    "lock-contention": FaultKind(
        name="lock-contention",
        summary="dits-server: one session holds a row lock (idle in transaction) and six wait for it, "
        "about 40 lock contentions a second",
        alert=SIMULATOR_FAULT_ALERTS["lock-contention"],
        inject=_inject_lock_contention,
        clear=_clear_lock_contention,
        active=_lock_contention_active,
        fix=FIXES["lock-contention"],
    ),
    "bad-deploy": FaultKind(
        name="bad-deploy",
        summary='dits-server 1.5.0 is rolled out (kubectl set image + change-cause "deploy 1.5.0"); '
        "it fails about 15% of API requests with 500 and logs ERROR lines",
        alert="HighErrorRate",
        inject=_inject_bad_deploy,
        clear=_clear_bad_deploy,
        active=_bad_deploy_active,
        fix=FIXES["bad-deploy"],
    ),
}
