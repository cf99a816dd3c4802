"""`ditsops sandbox`: start, inspect and stop the local practice environment, cause faults."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ditsops.core.errors import DitsopsError, UsageError
from ditsops.render import sandbox as render
from ditsops.sandbox import faults, lifecycle

app = typer.Typer(
    help="A disposable Dits incident environment on 127.0.0.1 to practise runbooks on.\n\nExample: ditsops sandbox up",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold a DSN with its password
)


def _console() -> Console:
    # Built per command so that it writes to whatever sys.stdout is at that moment.
    return Console(highlight=False)


@app.command()
def up() -> None:
    """Start the sandbox: a throwaway PostgreSQL on 127.0.0.1 (more services to come).

    Does nothing if it is already up and healthy; replaces it if it died.

    Example: ditsops sandbox up
    """
    render.render_up(_console(), lifecycle.up())


@app.command()
def down() -> None:
    """Stop the sandbox and its faults and delete its data.

    Example: ditsops sandbox down
    """
    report = lifecycle.down()
    render.render_down(_console(), report)
    if report.problems:
        raise DitsopsError(f"sandbox down left something behind: {report.problems[0]}")


@app.command()
def status() -> None:
    """Show the sandbox's components (pid, running or not, address) and active faults.

    Example: ditsops sandbox status
    """
    render.render_status(_console(), lifecycle.status())


def _complete_fault(incomplete: str) -> list[str]:
    return [name for name in faults.known_faults() if name.startswith(incomplete)]


@app.command()
def fault(
    name: Annotated[
        str | None,
        typer.Argument(
            help=f"Fault to inject or clear: {', '.join(faults.known_faults())}.",
            autocompletion=_complete_fault,
            show_default=False,
        ),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Clear the fault (all faults when NAME is omitted).")
    ] = False,
) -> None:
    """Make an incident happen in the sandbox, or clear it again.

    Example: ditsops sandbox fault db-exhaustion
    """
    console = _console()
    if clear:
        render.render_faults_cleared(console, faults.clear(name))
        return
    if name is None:
        raise UsageError(
            f"name a fault to inject ({', '.join(faults.known_faults())}), "
            "or pass --clear to clear all"
        )
    render.render_fault_injected(console, faults.inject(name))
