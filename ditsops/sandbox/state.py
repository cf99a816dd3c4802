"""What the sandbox has started, persisted so that later commands can find and stop it.

The state lives in `sandbox_dir()/state.json` (mode 0600: the postgres component holds
the cluster's password). Every running piece is a named `Component`; later pieces
(prometheus, alertmanager, simulator, kube API) are new entries, not new fields. Active
faults are kept by name with the pid of the process that plays them.

This module also answers "is the process recorded here still the one we started?",
because pids outlive their processes and get reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.base.paths import sandbox_dir

STATE_VERSION = 1


@dataclass
class Component:
    """One process the sandbox started.

    `url` is shown to people, so it never carries a secret; settings a client needs (the
    DSN with its password) go in `profile`, and component-specific data (e.g. the
    PgCluster) in `details`.
    """

    name: str
    pid: int | None = None
    port: int | None = None
    url: str | None = None
    data_dir: str | None = None
    # Substring of the process command line; guards against a reused pid.
    cmdline_marker: str | None = None
    profile: dict[str, object] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def is_alive(self) -> bool:
        return process_alive(self.pid, self.cmdline_marker)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Component:
        return cls(**_known_fields(cls, data))


@dataclass
class ActiveFault:
    """A fault that is being played, by the process `pid`."""

    name: str
    pid: int | None
    started_at: str
    cmdline_marker: str | None = None
    log_file: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def is_alive(self) -> bool:
        return process_alive(self.pid, self.cmdline_marker)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActiveFault:
        return cls(**_known_fields(cls, data))


@dataclass
class SandboxState:
    components: dict[str, Component] = field(default_factory=dict)
    faults: dict[str, ActiveFault] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: now_iso())
    version: int = STATE_VERSION

    def component(self, name: str) -> Component | None:
        return self.components.get(name)

    def profile(self) -> dict[str, object]:
        """Settings of the `sandbox` profile (keys as in the config file's profiles)."""
        settings: dict[str, object] = {}
        for component in self.components.values():
            settings.update(component.profile)
        settings["production"] = False
        return settings

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created_at": self.created_at,
            "components": {name: asdict(c) for name, c in self.components.items()},
            "faults": {name: asdict(f) for name, f in self.faults.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxState:
        return cls(
            version=int(data.get("version", STATE_VERSION)),
            created_at=str(data.get("created_at", "")),
            components={name: Component.from_dict(value) for name, value in dict(data.get("components", {})).items()},
            faults={name: ActiveFault.from_dict(value) for name, value in dict(data.get("faults", {})).items()},
        )


def state_file() -> Path:
    return sandbox_dir() / "state.json"


def ensure_sandbox_dir() -> Path:
    directory = sandbox_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def load_state() -> SandboxState | None:
    """The saved state, or None when the sandbox was never started (or was taken down)."""
    path = state_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DitsopsError(f"cannot read the sandbox state {path}: {exc.strerror}") from exc
    try:
        return SandboxState.from_dict(json.loads(text))
    except (ValueError, TypeError, AttributeError) as exc:
        raise DitsopsError(
            f"the sandbox state {path} is damaged ({exc})",
            hint=f"stop leftover processes by hand and remove {path}",
        ) from exc


def save_state(state: SandboxState) -> None:
    """Write the state atomically, readable by the owner only (it holds a password)."""
    directory = ensure_sandbox_dir()
    path = state_file()
    temporary = directory / f".state.json.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(state.to_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(temporary, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def clear_state() -> None:
    state_file().unlink(missing_ok=True)


@contextlib.contextmanager
def state_lock() -> Iterator[None]:
    """Serialise commands that change the sandbox (two `up`s must not start two clusters)."""
    lock_path = ensure_sandbox_dir() / "state.lock"
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- recorded processes -------------------------------------------------------------


def process_alive(pid: int | None, cmdline_marker: str | None = None) -> bool:
    """True if `pid` runs and (when given) its command line contains `cmdline_marker`.

    Zombies count as dead: a process that exited but was not yet reaped holds no
    connection and no port.
    """
    if not pid or pid <= 0:
        return False
    _reap_if_our_child(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it is just not ours to signal
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        # The state letter follows the parenthesised command name, which may hold spaces.
        if stat[stat.rindex(")") + 2 :][:1] in {"Z", "X"}:
            return False
        if cmdline_marker:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            return cmdline_marker in cmdline
    except (OSError, ValueError):
        pass  # no /proc (not Linux) or it vanished meanwhile: trust the signal check
    return True


def stop_process(
    pid: int | None,
    cmdline_marker: str | None = None,
    *,
    timeout: float = 10.0,
    whole_group: bool = False,
) -> bool:
    """SIGTERM, wait up to `timeout`, then SIGKILL. True if a live process was stopped.

    `whole_group` signals the process group led by `pid` (a session leader's children,
    e.g. a postmaster's backends), so nothing it started is left behind.
    """
    if not process_alive(pid, cmdline_marker):
        return False
    assert pid is not None
    _signal(pid, signal.SIGTERM, whole_group)
    if wait_for_exit(pid, timeout):
        return True
    _signal(pid, signal.SIGKILL, whole_group)
    if not wait_for_exit(pid, 5.0):
        raise DitsopsError(f"process {pid} did not exit even after SIGKILL")
    return True


def wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)


def kill_now(pid: int, *, whole_group: bool = False) -> None:
    """SIGKILL and wait; for processes that ignored a polite request already."""
    _signal(pid, signal.SIGKILL, whole_group)
    wait_for_exit(pid, 5.0)


def _signal(pid: int, signum: int, whole_group: bool) -> None:
    try:
        if whole_group and os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _reap_if_our_child(pid: int) -> None:
    # A fault process started by this very process (e.g. in tests) stays a zombie until
    # its parent waits for it; reaping here keeps "alive" truthful.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    # Tolerate keys written by a newer ditsops instead of failing on the whole state.
    names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    return {key: value for key, value in dict(data).items() if key in names}
