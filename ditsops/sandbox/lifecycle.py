"""Bring the sandbox up, take it down, tell how it is doing.

Pure core: these functions return dataclasses and never print. Each piece of the sandbox
is a `ComponentKind` in `COMPONENTS` (started in that order, stopped in reverse), so a new
piece (prometheus, alertmanager, simulator, kube API) is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ditsops.core.errors import DitsopsError
from ditsops.sandbox import faults
from ditsops.sandbox.pgcluster import PgCluster, create_cluster
from ditsops.sandbox.ports import wait_for_port
from ditsops.sandbox.state import (
    Component,
    SandboxState,
    clear_state,
    load_state,
    save_state,
    state_file,
    state_lock,
    stop_process,
)

SANDBOX_MAX_CONNECTIONS = 50

# Saves a component's record as soon as it exists, so that a crash halfway through
# `up` still leaves enough in the state file for `down` to clean up.
RecordComponent = Callable[[Component], None]


@dataclass(frozen=True)
class ComponentKind:
    name: str
    start: Callable[[RecordComponent], Component]
    healthy: Callable[[Component], bool]
    # Stops the component's processes and removes its data; returns the paths removed.
    stop: Callable[[Component], list[str]]


@dataclass(frozen=True)
class UpReport:
    state: SandboxState
    already_up: bool
    replaced_stale: bool  # a previous sandbox had died and was cleaned up first


@dataclass(frozen=True)
class DownReport:
    was_up: bool
    stopped: list[str] = field(default_factory=list)  # components stopped or cleaned up
    faults_cleared: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # data directories deleted
    problems: list[str] = field(default_factory=list)  # what could not be cleaned up


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    alive: bool
    port: int | None
    url: str | None  # never carries a password
    data_dir: str | None


@dataclass(frozen=True)
class FaultStatus:
    name: str
    pid: int | None
    alive: bool
    started_at: str
    summary: str
    log_file: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class SandboxStatus:
    up: bool  # a sandbox was started and not taken down (it may have died since)
    state_file: Path
    components: list[ComponentStatus]
    faults: list[FaultStatus]

    @property
    def healthy(self) -> bool:
        return self.up and all(component.alive for component in self.components)


def up() -> UpReport:
    """Start every component; a healthy sandbox is left alone, a dead one replaced."""
    with state_lock():
        state = load_state()
        replaced_stale = False
        if state is not None:
            if _is_healthy(state):
                return UpReport(state=state, already_up=True, replaced_stale=False)
            _teardown(state)
            clear_state()
            replaced_stale = True
        state = SandboxState()
        try:
            for kind in COMPONENTS:

                def record(component: Component) -> None:
                    state.components[component.name] = component
                    save_state(state)

                record(kind.start(record))
        except BaseException:
            _teardown(state)
            clear_state()
            raise
        return UpReport(state=state, already_up=False, replaced_stale=replaced_stale)


def down() -> DownReport:
    """Stop faults and components and delete their data, even from a half-dead sandbox."""
    with state_lock():
        state = load_state()
        if state is None:
            return DownReport(was_up=False)
        report = _teardown(state)
        if report.problems:
            save_state(state)  # keep what is left so that `down` can be retried
        else:
            clear_state()
        return report


def status() -> SandboxStatus:
    state = load_state()
    if state is None:
        return SandboxStatus(up=False, state_file=state_file(), components=[], faults=[])
    kinds = {kind.name: kind for kind in COMPONENTS}
    components = [
        ComponentStatus(
            name=component.name,
            pid=component.pid,
            alive=kinds[name].healthy(component) if name in kinds else component.is_alive(),
            port=component.port,
            url=component.url,
            data_dir=component.data_dir,
        )
        for name, component in state.components.items()
    ]
    fault_statuses = [
        FaultStatus(
            name=fault.name,
            pid=fault.pid,
            alive=fault.is_alive(),
            started_at=fault.started_at,
            summary=faults.FAULTS[name].summary if name in faults.FAULTS else "",
            log_file=fault.log_file,
            details=dict(fault.details),
        )
        for name, fault in state.faults.items()
    ]
    return SandboxStatus(
        up=True, state_file=state_file(), components=components, faults=fault_statuses
    )


def _is_healthy(state: SandboxState) -> bool:
    for kind in COMPONENTS:
        component = state.component(kind.name)
        if component is None or not kind.healthy(component):
            return False
    return True


def _teardown(state: SandboxState) -> DownReport:
    """Best effort over everything recorded; what fails is reported, the rest still runs."""
    report = DownReport(was_up=True)
    for name in sorted(state.faults):
        fault = state.faults[name]
        try:
            report.faults_cleared.extend(faults.clear_faults(state, [name]))
        except DitsopsError as exc:
            # The database may be gone already; the fault's own process must still go.
            try:
                stop_process(fault.pid, fault.cmdline_marker)
                state.faults.pop(name, None)
                report.faults_cleared.append(name)
            except DitsopsError as again:
                report.problems.append(f"fault {name}: {exc.message}; {again.message}")
    kinds = {kind.name: kind for kind in COMPONENTS}
    for name in reversed(list(state.components)):
        component = state.components[name]
        try:
            if name in kinds:
                report.removed.extend(kinds[name].stop(component))
            else:  # recorded by a newer ditsops: stop its process, leave its files
                stop_process(component.pid, component.cmdline_marker)
            del state.components[name]
            report.stopped.append(name)
        except DitsopsError as exc:
            report.problems.append(f"{name}: {exc.message}")
    return report


# --- postgres -----------------------------------------------------------------------


def _start_postgres(record: RecordComponent) -> Component:
    cluster = create_cluster(max_connections=SANDBOX_MAX_CONNECTIONS)
    component = _postgres_component(cluster, pid=None)
    record(component)  # the data dir exists from here on; `down` must find it
    cluster.start()
    return _postgres_component(cluster, pid=cluster.pid())


def _postgres_component(cluster: PgCluster, pid: int | None) -> Component:
    return Component(
        name=faults.POSTGRES,
        pid=pid,
        port=cluster.port,
        url=cluster.masked_dsn,
        data_dir=str(cluster.root_dir),
        cmdline_marker=cluster.cmdline_marker,
        profile={"dsn": cluster.dsn},
        details=cluster.to_dict(),
    )


def _postgres_healthy(component: Component) -> bool:
    cluster = PgCluster.from_dict(component.details)
    return (
        component.is_alive()
        and cluster.is_running()
        and wait_for_port(cluster.port, cluster.host, timeout=1.0)
    )


def _stop_postgres(component: Component) -> list[str]:
    cluster = PgCluster.from_dict(component.details)
    cluster.stop()
    # postmaster.pid may be gone (data dir deleted by hand) while the server still runs.
    stop_process(component.pid, component.cmdline_marker, timeout=5.0, whole_group=True)
    existed = cluster.root_dir.exists()
    cluster.destroy()
    return [str(cluster.root_dir)] if existed else []


COMPONENTS: list[ComponentKind] = [
    ComponentKind(
        name=faults.POSTGRES,
        start=_start_postgres,
        healthy=_postgres_healthy,
        stop=_stop_postgres,
    ),
]
