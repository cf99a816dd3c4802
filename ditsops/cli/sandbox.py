"""`ditsops sandbox`: start, inspect and stop the local practice environment, cause faults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

import ditsops.sandbox  # noqa: F401 - the hook: importing the sandbox registers its `sandbox` profile
from ditsops.base.errors import DitsopsError, UsageError
from ditsops.cli.common import OutputOption, app_state
from ditsops.sandbox import (
    faults,  # light: the fault registry imports its players lazily
    render,  # its renderers live with it: render/ never imports the sandbox
)

if TYPE_CHECKING:
    from ditsops.sandbox.lifecycle import SandboxStatus

# lifecycle (and through it the components: yaml, urllib, the kube and Prometheus helpers)
# is imported inside each command, so that `ditsops --help` stays fast.

app = typer.Typer(
    help="A disposable Dits incident environment on 127.0.0.1 to practise runbooks on: PostgreSQL, "
    "a Dits server simulator, an in-memory Kubernetes API, Prometheus and Alertmanager, and faults "
    "that make each alert fire.\n\nExample: ditsops sandbox up && ditsops sandbox fault bad-deploy",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold a DSN with its password
)


def _console() -> Console:
    # Built per command so that it writes to whatever sys.stdout is at that moment.
    return Console(highlight=False)


@app.command()
def up() -> None:
    """Start the sandbox on free 127.0.0.1 ports and point the `sandbox` profile at it.

    In order: a throwaway PostgreSQL (max_connections 50), an in-memory Kubernetes API
    (namespace dits with deployments dits-server and dits-worker; kubeconfig in the sandbox
    directory), the Dits server simulator (reads its deployed image from that API), then
    Alertmanager and Prometheus (scraping the simulator every second with the Dits alert
    rules on short clocks). Needs the Debian packages postgresql, prometheus and
    prometheus-alertmanager. Does nothing if it is already up; replaces it if it died.

    Example: ditsops sandbox up
    """
    from ditsops.sandbox import lifecycle

    render.render_up(_console(), lifecycle.up())


@app.command()
def down() -> None:
    """Clear the faults, stop every sandbox process and delete its data.

    Example: ditsops sandbox down
    """
    from ditsops.sandbox import lifecycle

    report = lifecycle.down()
    render.render_down(_console(), report)
    if report.problems:
        raise DitsopsError(f"sandbox down left something behind: {report.problems[0]}")


@app.command()
def status(ctx: typer.Context, output: OutputOption = None) -> None:
    """Show each component (running or dead, healthy or not; pid; URL) and the faults in effect.

    Healthy means the process runs and answers its health check: pg_isready, the
    Kubernetes API's /version, the simulator's /health/live, Prometheus' and
    Alertmanager's /-/ready.

    With -o json: also the kubeconfig path and every URL by role (the PostgreSQL DSN with
    its password as ***), for scripts.

    Example: ditsops sandbox status -o json | jq -r .kubeconfig
    """
    from ditsops.render.output import print_json
    from ditsops.sandbox import lifecycle

    report = lifecycle.status()
    if app_state(ctx).output_format(output) == "json":
        print_json(_console(), _status_json(report))
        return
    render.render_status(_console(), report)


# The sandbox's components by the role a script looks them up by.
_ROLES = {
    "postgres": "postgres",
    "kubeapi": "kubernetes",
    "simulator": "dits",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
}


def _status_json(report: SandboxStatus) -> dict[str, Any]:
    """Component URLs are stored without secrets (the DSN's password is ***); the profile's
    real DSN is never read here."""
    urls: dict[str, Any] = {role: [] if role == "dits" else None for role in _ROLES.values()}
    for component in report.components:
        role = _ROLES.get(component.name, component.name)
        if role == "dits":
            urls["dits"] += [component.url] if component.url else []
        else:
            urls[role] = component.url
    return {
        "up": report.up,
        "healthy": report.healthy,
        "profile": "sandbox",
        "state_file": str(report.state_file),
        "kubeconfig": report.kubeconfig,
        "kube_context": report.kube_context,
        "namespace": report.namespace,
        "urls": urls,
        "components": [
            {
                "name": c.name,
                "running": c.alive,
                "healthy": c.healthy,
                "pid": c.pid,
                "port": c.port,
                "url": c.url,
                "data_dir": c.data_dir,
            }
            for c in report.components
        ],
        "faults": [
            {
                "name": f.name,
                "active": f.alive,
                "alert": f.alert,
                "summary": f.summary,
                "pid": f.pid,
                "started_at": f.started_at,
                "log_file": f.log_file,
            }
            for f in report.faults
        ],
    }


def _complete_fault(incomplete: str) -> list[str]:
    return [name for name in faults.known_faults() if name.startswith(incomplete)]


def _fault_help() -> str:
    """The fault command's help: each fault, the alert it fires and what ends it (from the registry)."""
    lines = "\n".join(
        f"- {name} ({kind.alert}): ends by {kind.fix}."
        if not kind.fix.startswith("nothing")
        else f"- {name} ({kind.alert}): {kind.fix}."
        for name, kind in sorted(faults.FAULTS.items())
    )
    return (
        "Make an incident happen in the sandbox, or clear it again.\n\n"
        "Each fault makes its alert fire within about a minute (traffic-spike once Prometheus has a "
        "minute of history), and ends with the fix a production engineer would apply, or with "
        "--clear:\n\n" + lines + "\n\nA fault a fix ended shows as ended in `ditsops sandbox status`; "
        "injecting it again arms it again.\n\nExample: ditsops sandbox fault bad-deploy"
    )


@app.command(help=_fault_help())
def fault(
    name: Annotated[
        str | None,
        typer.Argument(
            help=f"Fault to inject or clear: {', '.join(faults.known_faults())}.",
            autocompletion=_complete_fault,
            show_default=False,
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Clear the fault (all faults when NAME is omitted).")] = False,
) -> None:
    console = _console()
    if clear:
        render.render_faults_cleared(console, faults.clear(name))
        return
    if name is None:
        raise UsageError(f"name a fault to inject ({', '.join(faults.known_faults())}), or pass --clear to clear all")
    render.render_fault_injected(console, faults.inject(name))
