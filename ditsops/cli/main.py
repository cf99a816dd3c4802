"""The `ditsops` command: global options, command groups, and the one error handler."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from ditsops import __version__
from ditsops.cli import alerts as alerts_cli
from ditsops.cli import config as config_cli
from ditsops.cli import db as db_cli
from ditsops.cli import health as health_cli
from ditsops.cli import k8s as k8s_cli
from ditsops.cli import prom as prom_cli
from ditsops.cli import runbook as runbook_cli
from ditsops.cli import sandbox as sandbox_cli
from ditsops.cli.common import app_state
from ditsops.core.errors import DitsopsError, ExitCode


class _RootGroup(TyperGroup):
    """The one place errors become a one-line message and a defined exit code.

    Click's own usage errors (exit 2) are handled by click before this is reached.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DitsopsError as error:
            problems = getattr(error, "problems", None)
            for problem in problems if problems and len(problems) > 1 else [error.message]:
                _say(problem)
            if error.hint:
                _say(f"hint: {error.hint}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as interrupted:
            _say(getattr(interrupted, "message", None) or "interrupted; nothing further was changed")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
            if getattr(error, "exit_code", None) is not None and type(error).__module__.startswith("typer"):
                raise  # click's own exceptions (usage errors) keep click's handling
            if _DEBUG["on"]:
                from rich.console import Console

                Console(stderr=True).print_exception(show_locals=False)
            _say(f"internal error: {type(error).__name__}: {error} (run with --debug for the traceback)")
            raise typer.Exit(ExitCode.ERROR) from None


app = typer.Typer(
    cls=_RootGroup,
    name="ditsops",
    help="Incident response for Dits: walk runbooks, diagnose PostgreSQL, act with a preview and a confirmation.\n\n"
    "Example: ditsops runbook db-connections-exhausted",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a local may hold a DSN with its password
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(runbook_cli.app, name="runbook")
app.add_typer(db_cli.app, name="db")
app.add_typer(k8s_cli.app, name="k8s")
app.add_typer(prom_cli.app, name="prom")
app.command("alerts")(alerts_cli.alerts_command)
app.add_typer(alerts_cli.silence_app, name="silence")
app.command("health")(health_cli.health_command)
app.add_typer(config_cli.app, name="config")
app.add_typer(sandbox_cli.app, name="sandbox")

_DEBUG = {"on": bool(os.environ.get("DITSOPS_DEBUG"))}


def _version(value: bool) -> None:
    if value:
        print(f"ditsops {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile from the config file (or 'sandbox').",
            envvar="DITSOPS_PROFILE",
            show_envvar=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config file (default: $XDG_CONFIG_HOME/ditsops/config.toml).",
            envvar="DITSOPS_CONFIG",
            show_envvar=False,
        ),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Output format: table or json.")] = "table",
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn", help="PostgreSQL DSN (prefer DITSOPS_DSN: options are visible in ps).", show_default=False
        ),
    ] = None,
    kube_context: Annotated[
        str | None,
        typer.Option(
            "--context", help="Kubernetes context (default: the kubeconfig's current one).", show_default=False
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Kubernetes namespace (default: the context's).", show_default=False),
    ] = None,
    confirm_targets: Annotated[
        list[str] | None,
        typer.Option(
            "--confirm-target",
            help="On a production profile, what --yes may act on: the target's name, as a terminal would "
            "make you type it; repeatable.",
            show_default=False,
        ),
    ] = None,
    ignore_lease: Annotated[
        bool,
        typer.Option(
            "--ignore-lease",
            help="Act although another ditsops holds the target's lease (recorded).",
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Incident response for Dits.

    Example: ditsops --profile sandbox db activity
    """
    state = app_state(ctx)
    state.profile, state.config, state.output, state.dsn = profile, config, output, dsn
    state.kube_context, state.namespace = kube_context, namespace
    state.confirm_targets = tuple(confirm_targets or ())
    state.ignore_lease = ignore_lease
    state.debug = debug or _DEBUG["on"]
    _DEBUG["on"] = state.debug


@app.command("completion", hidden=True)
def completion(shell: Annotated[str, typer.Argument(help="bash, zsh or fish")]) -> None:
    """Print the shell completion script (the ones in completions/ are this output).

    Example: ditsops completion bash > /etc/bash_completion.d/ditsops
    """
    from typer._completion_shared import get_completion_script

    if shell not in ("bash", "zsh", "fish"):
        raise DitsopsError(f"no completion for {shell!r} (bash, zsh, fish)")
    sys.stdout.write(get_completion_script(prog_name="ditsops", complete_var="_DITSOPS_COMPLETE", shell=shell))


def _say(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from ditsops.core.secrets import redact_text

    Console(stderr=True, highlight=False).print(f"[bold red]ditsops:[/] {escape(redact_text(message))}", soft_wrap=True)


def run() -> None:
    """Console-script entry point."""
    if os.environ.get("_DITSOPS_COMPLETE"):
        # add_completion=False (no --install-completion option) also skips registering
        # typer's shell completers, which the scripts in completions/ call back into.
        from typer._completion_classes import completion_init

        completion_init()
    app()
