"""How sandbox results look on a terminal. Pure: (console, result) -> nothing returned.

They live in the sandbox package, not in render/: the product's renderers know nothing of
the sandbox.

Nothing here ever sees a password: component URLs are stored masked, and the profile
(which holds the real DSN) is never rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from ditsops.sandbox.faults import ClearResult, InjectResult
    from ditsops.sandbox.lifecycle import DownReport, SandboxStatus, UpReport


def render_up(console: Console, report: UpReport) -> None:
    if report.already_up:
        console.print("[bold]Sandbox is already up.[/bold]")
    elif report.replaced_stale:
        console.print("[bold green]Sandbox is up[/bold green] (a dead one was cleaned up first).")
    else:
        console.print("[bold green]Sandbox is up.[/bold green]")
    width = _name_width(report.state.components)
    for component in report.state.components.values():
        _print_line(console, component.name, width, _word("running"), component.pid, component.url)
    kubeconfig = report.state.profile().get("kubeconfig")
    console.print(
        "Use it with: ditsops --profile sandbox alerts   (or health, runbook, k8s status, db activity)",
        soft_wrap=True,
    )
    if kubeconfig:
        console.print(f"kubectl:     kubectl --kubeconfig {kubeconfig} get deployments", soft_wrap=True)
    console.print(
        "Cause an incident with: ditsops sandbox fault bad-deploy   (all faults: ditsops sandbox fault --help)",
        soft_wrap=True,
    )


def render_status(console: Console, status: SandboxStatus) -> None:
    if not status.up:
        console.print("Sandbox is not up. Start it with: ditsops sandbox up")
        return
    if status.healthy:
        console.print("[bold green]Sandbox is up[/bold green], every component healthy.")
    elif status.alive:
        console.print(
            "[bold yellow]Sandbox is up[/bold yellow], but some components do not answer their "
            "health check (a fault such as service-down does that on purpose)."
        )
    else:
        console.print(
            "[bold red]Sandbox is degraded:[/bold red] some components died. Restart it with: ditsops sandbox up"
        )
    width = _name_width([component.name for component in status.components])
    for component in status.components:
        # Two words: the process (running or dead), then its health check.
        health = _word("healthy" if component.healthy else "unhealthy") if component.alive else _word("-")
        state = _word("running" if component.alive else "dead", 7) + "  " + health
        _print_line(console, component.name, width, state, component.pid, component.url)
    if not status.faults:
        console.print("No active faults.")
        return
    console.print("Faults:")
    width = _name_width([fault.name for fault in status.faults])
    for fault in status.faults:
        alert = f" -> {fault.alert}" if fault.alert else ""
        _print_line(
            console,
            fault.name,
            width,
            _word("active" if fault.alive else "ended"),
            fault.pid,
            f"since {fault.started_at}{alert}",
        )
        if fault.log_file:
            console.print(f"  {'':<{width}}  log: {fault.log_file}", soft_wrap=True)


def render_down(console: Console, report: DownReport) -> None:
    if not report.was_up:
        console.print("Sandbox was not up; nothing to stop.")
        return
    for name in report.faults_cleared:
        console.print(f"Cleared fault {name}.")
    for name in report.stopped:
        console.print(f"Stopped {name}.")
    for path in report.removed:
        console.print(f"Removed {path}.")
    for problem in report.problems:
        console.print(f"[red]Could not clean up:[/red] {problem}")
    if not report.problems:
        console.print("[bold]Sandbox is down.[/bold]")


def render_fault_injected(console: Console, result: InjectResult) -> None:
    fault = result.fault
    if result.already_active:
        console.print(f"Fault {fault.name} is already active.")
    else:
        console.print(f"[bold red]Injected {fault.name}[/bold red].")
    console.print(result.kind.summary + ".", soft_wrap=True)
    observed = fault.details.get("observed")
    maximum = fault.details.get("max_connections")
    if isinstance(observed, dict) and maximum:
        console.print(
            f"dits-server holds {observed.get('total')} of {maximum} connections: "
            f"{observed.get('idle_in_transaction')} idle in transaction, "
            f"{observed.get('sleeping')} running pg_sleep, "
            f"{observed.get('lock_waiters')} waiting on a lock."
        )
    if fault.details.get("image"):
        console.print(
            f"Deployed {fault.details['image']} (was {fault.details.get('previous_image')}), "
            f"revision {fault.details.get('revision')}.",
            soft_wrap=True,
        )
    console.print(
        f"Alert it should fire: {result.kind.alert} (within about a minute; see: ditsops --profile sandbox alerts)"
    )
    holder = fault.details.get("holder_pid")
    if holder:
        console.print(
            f"dits-server backend {holder} holds a row lock, idle in transaction; "
            f"{fault.details.get('waiters')} sessions wait for it (see: ditsops --profile sandbox db blocking).",
            soft_wrap=True,
        )
    if result.kind.fix:
        console.print(f"What ends it: {result.kind.fix}.", soft_wrap=True)
    console.print(f"Clear it with: ditsops sandbox fault {fault.name} --clear")


def render_faults_cleared(console: Console, result: ClearResult) -> None:
    for name in result.cleared:
        console.print(f"Cleared fault {name}.")
    for name in result.not_active:
        console.print(f"Fault {name} is not active.")
    if not result.cleared and not result.not_active:
        console.print("No active faults.")


_COLOURS = {"running": "green", "healthy": "green", "unhealthy": "yellow", "active": "red", "ended": "yellow"}


def _word(word: str, width: int = 9) -> str:
    """`word` padded to `width` and coloured by what it says (unknown words red: dead)."""
    return f"[{_COLOURS.get(word, 'red')}]{word:<{width}}[/]"


def _print_line(console: Console, name: str, width: int, state: str, pid: int | None, where: str | None) -> None:
    # Plain aligned lines rather than a boxed table: a table on an 80-column terminal
    # folds the address in the middle, and then it cannot be copied whole.
    console.print(f"  {name:<{width}}  {state}  pid {_pid(pid):<7}  {where or '-'}", soft_wrap=True)


def _name_width(names: Iterable[str]) -> int:
    return max((len(name) for name in names), default=0)


def _pid(pid: int | None) -> str:
    return str(pid) if pid else "-"
