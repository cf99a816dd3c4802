"""Bring the sandbox up, take it down, tell how it is doing.

Pure core: these functions return dataclasses and never print. Each piece of the sandbox
is a `ComponentKind` in `components.COMPONENTS` (started in that order, each after what
it depends on, stopped in reverse), so a new piece is one more entry there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.sandbox import faults
from ditsops.sandbox.components import (
    COMPONENTS,
    SANDBOX_MAX_CONNECTIONS,
    ComponentKind,
    RecordComponent,
    check_requirements,
)
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

__all__ = ["COMPONENTS", "SANDBOX_MAX_CONNECTIONS", "ComponentKind", "RecordComponent", "up", "down", "status"]


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
    alive: bool  # its process runs
    healthy: bool  # and answers its health check (/-/ready, /health/live, /version, pg_isready)
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
    alert: str  # the alert it makes fire
    log_file: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class SandboxStatus:
    up: bool  # a sandbox was started and not taken down (it may have died since)
    state_file: Path
    components: list[ComponentStatus]
    faults: list[FaultStatus]
    # Where kubectl finds the sandbox's Kubernetes API (from the profile; never its DSN).
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespace: str | None = None

    @property
    def healthy(self) -> bool:
        return self.up and all(component.alive and component.healthy for component in self.components)

    @property
    def alive(self) -> bool:
        return self.up and all(component.alive for component in self.components)


def up() -> UpReport:
    """Start every component; a running sandbox is left alone, a dead one replaced.

    A missing service binary fails before anything starts; a failure halfway stops and
    removes whatever was started.
    """
    with state_lock():
        state = load_state()
        replaced_stale = False
        if state is not None and _is_running(state):
            state.components = {name: state.components[name] for name in _start_order(state)}
            return UpReport(state=state, already_up=True, replaced_stale=False)
        check_requirements()
        if state is not None:
            _teardown(state)
            clear_state()
            replaced_stale = True
        state = SandboxState()
        save_state(state)

        def record(component: Component) -> None:
            state.components[component.name] = component
            save_state(state)

        try:
            for kind in COMPONENTS:
                record(kind.start(record, dict(state.components)))
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
    names = _start_order(state)
    # Health checks wait up to a second or two each on a dead endpoint: ask all at once.
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        checks = list(pool.map(lambda name: _check(kinds.get(name), state.components[name]), names))
    components = [
        ComponentStatus(
            name=component.name,
            pid=component.pid,
            alive=alive,
            healthy=healthy,
            port=component.port,
            url=component.url,
            data_dir=component.data_dir,
        )
        for component, (alive, healthy) in zip((state.components[name] for name in names), checks, strict=True)
    ]
    fault_statuses = [
        FaultStatus(
            name=fault.name,
            pid=fault.pid,
            alive=faults.FAULTS[name].is_active(state, fault) if name in faults.FAULTS else fault.is_alive(),
            started_at=fault.started_at,
            summary=faults.FAULTS[name].summary if name in faults.FAULTS else "",
            alert=faults.FAULTS[name].alert if name in faults.FAULTS else "",
            log_file=fault.log_file,
            details=dict(fault.details),
        )
        for name, fault in state.faults.items()
    ]
    profile = state.profile()
    return SandboxStatus(
        up=True,
        state_file=state_file(),
        components=components,
        faults=fault_statuses,
        kubeconfig=_text(profile.get("kubeconfig")),
        kube_context=_text(profile.get("kube_context")),
        namespace=_text(profile.get("namespace")),
    )


def _text(value: object) -> str | None:
    return str(value) if value else None


def _check(kind: ComponentKind | None, component: Component) -> tuple[bool, bool]:
    if kind is None:  # recorded by a newer ditsops
        alive = component.is_alive()
        return alive, alive
    alive = kind.alive(component)
    try:
        return alive, alive and kind.healthy(component)
    except (DitsopsError, OSError):
        return alive, False


def _start_order(state: SandboxState) -> list[str]:
    """The recorded components in the order they start (the state file keeps them sorted
    by name); ones unknown to this version of ditsops last."""
    known = [kind.name for kind in COMPONENTS if kind.name in state.components]
    return known + [name for name in state.components if name not in known]


def _is_running(state: SandboxState) -> bool:
    """Every component's process is there (a fault such as service-down may make one
    unhealthy on purpose: that is no reason to replace the sandbox)."""
    for kind in COMPONENTS:
        component = state.component(kind.name)
        if component is None or not kind.alive(component):
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
    for name in reversed(_start_order(state)):
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
