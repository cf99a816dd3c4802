"""Real Prometheus and Alertmanager (the Debian packages) on loopback ports.

For the practice sandbox and the tests: Prometheus scrapes the Dits simulator every
second, evaluates the sandbox copy of the Dits alert rules every second and sends to an
Alertmanager whose only receiver discards everything (the sandbox pages nobody).
Each process gets its own directory with its config, data and log; both are started in
a new session so that they outlive the `ditsops sandbox up` that started them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from ditsops.base.errors import DitsopsError
from ditsops.sandbox.ports import free_port
from ditsops.sandbox.rules import SANDBOX_FOR_SECONDS, sandbox_rules, shipped_rules_path
from ditsops.sandbox.state import stop_process

INSTALL_COMMAND = "apt-get install --no-install-recommends prometheus prometheus-alertmanager"
PROMETHEUS_BINARIES = ("prometheus",)
# Debian renames alertmanager; upstream tarballs keep the plain name.
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
SCRAPE_JOB = "dits-server"  # ServiceDown matches up{job="dits-server"}
READY_TIMEOUT_SECONDS = 20.0

# Popen objects of the services this process started, kept so Python does not warn that
# a "subprocess is still running" when one is garbage-collected; stop() forgets them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

ALERTMANAGER_HEADER = """\
# ditsops sandbox Alertmanager: routes like the spec (grouped by alertname and severity)
# but to a receiver that sends nothing, with 1 s waits so alerts show up at once.
# The inhibit rule is the spec's. Note it never matches: each alertname has exactly one
# severity, so no critical alert shares an alertname with a warning one.
"""


@dataclass(frozen=True)
class ServiceProcess:
    name: str  # prometheus | alertmanager
    pid: int
    port: int
    url: str  # http://127.0.0.1:PORT
    directory: Path  # config, data and log live here
    config_file: Path
    log_file: Path
    cmdline_marker: str  # the --web.listen-address flag: tells our process from a reused pid


@dataclass(frozen=True)
class PromStack:
    prometheus: ServiceProcess
    alertmanager: ServiceProcess
    rules_file: Path


def find_binary(candidates: tuple[str, ...], what: str) -> Path:
    for name in candidates:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise DitsopsError(
        f"{what} is not installed (looked for {', '.join(candidates)} on PATH); install it with: {INSTALL_COMMAND}",
        hint=INSTALL_COMMAND,
    )


def alertmanager_config() -> str:
    document = {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "severity"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "null"}],
        "inhibit_rules": [
            {
                "source_match": {"severity": "critical"},
                "target_match": {"severity": "warning"},
                "equal": ["alertname"],
            }
        ],
    }
    return ALERTMANAGER_HEADER + yaml.safe_dump(document, sort_keys=False)


def prometheus_config(targets: list[str], alertmanager_port: int, rules_file: Path) -> str:
    document = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
        "rule_files": [str(rules_file)],
        "scrape_configs": [{"job_name": SCRAPE_JOB, "static_configs": [{"targets": targets}]}],
    }
    header = "# ditsops sandbox Prometheus: 1 s scrapes and rule evaluations, so faults show up at once.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def write_sandbox_rules(directory: Path, for_seconds: int = SANDBOX_FOR_SECONDS) -> Path:
    """The shipped rules, rewritten for the sandbox (rules.sandbox_rules), in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    source = shipped_rules_path()
    path = directory / "dits.sandbox.rules.yml"
    path.write_text(sandbox_rules(source.read_text(), for_seconds, source=str(source)))
    return path


def start_alertmanager(directory: Path, port: int | None = None, binary: Path | None = None) -> ServiceProcess:
    binary = binary or find_binary(ALERTMANAGER_BINARIES, "Alertmanager")
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = directory / "alertmanager.yml"
    config.write_text(alertmanager_config())
    (directory / "data").mkdir(exist_ok=True)
    listen = f"--web.listen-address=127.0.0.1:{port}"
    argv = [
        str(binary),
        f"--config.file={config}",
        f"--storage.path={directory / 'data'}",
        listen,
        "--cluster.listen-address=",  # empty: no gossip port, no peers, single instance
    ]
    return _launch("alertmanager", argv, directory, config, port, listen)


def start_prometheus(
    directory: Path,
    targets: list[str],
    alertmanager_port: int,
    rules_file: Path,
    port: int | None = None,
    binary: Path | None = None,
) -> ServiceProcess:
    binary = binary or find_binary(PROMETHEUS_BINARIES, "Prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = directory / "prometheus.yml"
    config.write_text(prometheus_config(targets, alertmanager_port, rules_file))
    listen = f"--web.listen-address=127.0.0.1:{port}"
    argv = [
        str(binary),
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        listen,
        "--web.enable-lifecycle",  # POST /-/reload picks up rewritten rules without a restart
    ]
    return _launch("prometheus", argv, directory, config, port, listen)


def start_stack(directory: Path, targets: list[str], for_seconds: int = SANDBOX_FOR_SECONDS) -> PromStack:
    """Alertmanager, then Prometheus scraping `targets` (host:port) with the sandbox rules."""
    rules_file = write_sandbox_rules(directory, for_seconds)
    alertmanager = start_alertmanager(directory / "alertmanager")
    try:
        prometheus = start_prometheus(directory / "prometheus", targets, alertmanager.port, rules_file)
    except BaseException:
        stop(alertmanager.pid, alertmanager.cmdline_marker)
        raise
    return PromStack(prometheus=prometheus, alertmanager=alertmanager, rules_file=rules_file)


def stop_stack(stack: PromStack) -> None:
    stop(stack.prometheus.pid, stack.prometheus.cmdline_marker)
    stop(stack.alertmanager.pid, stack.alertmanager.cmdline_marker)


def stop(pid: int, cmdline_marker: str | None = None, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; True if a live process was stopped."""
    stopped = stop_process(pid, cmdline_marker, timeout=timeout)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.poll()  # reaped already by stop_process; this records the exit status
    return stopped


def _launch(name: str, argv: list[str], directory: Path, config: Path, port: int, marker: str) -> ServiceProcess:
    log_file = directory / f"{name}.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    service = ServiceProcess(
        name=name,
        pid=process.pid,
        port=port,
        url=f"http://127.0.0.1:{port}",
        directory=directory,
        config_file=config,
        log_file=log_file,
        cmdline_marker=marker,
    )
    try:
        _wait_ready(service, process)
    except BaseException:
        stop(process.pid, marker, timeout=5)
        raise
    return service


def _wait_ready(service: ServiceProcess, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DitsopsError(
                f"{service.name} exited with status {process.returncode} while starting: {_log_tail(service)}"
            )
        try:
            with urllib.request.urlopen(f"{service.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise DitsopsError(f"{service.name} was not ready within {READY_TIMEOUT_SECONDS:.0f} s: {_log_tail(service)}")


def _log_tail(service: ServiceProcess, lines: int = 5) -> str:
    try:
        tail = service.log_file.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"(no log at {service.log_file})"
    return " | ".join(tail) + f" (log: {service.log_file})"
