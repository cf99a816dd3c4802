"""The `ditsops` command: global options, command groups, and the one error handler."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated

import typer
import typer.main
from typer import _click as click  # typer's own copy of click (typer >= 0.25 vendors it)
from typer._click.exceptions import UsageError
from typer._click.shell_completion import CompletionItem
from typer.core import TyperCommand, TyperGroup

from ditsops import __version__
from ditsops.base.errors import DitsopsError, ExitCode
from ditsops.cli import coercion, globalargs, helpwords
from ditsops.cli.common import AppState, GlobalOutputOption, app_state
from ditsops.cli.watcharg import spell_out_watch_interval

# The command groups, imported only when invoked (click's lazy-group pattern): `ditsops
# --help` and `ditsops runbook list` then pay for one group at most, not for all of them
# and what they import. Each entry: name -> (module, attribute, the one-line help that
# `ditsops --help` shows without importing the module). The attribute is a Typer app (a
# group) or a command function. tests/test_cli_help.py checks each line against the
# loaded command's own help, so the two cannot drift apart.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "alerts": (
        "ditsops.cli.alerts",
        "alerts_command",
        "Firing and pending alerts (Alertmanager when configured, else Prometheus), with the runbook for each.",
    ),
    "health": (
        "ditsops.cli.health",
        "health_command",
        "Check the Dits server's health endpoints. Exit 0 healthy, 1 degraded, 4 unreachable.",
    ),
    "runbook": (
        "ditsops.cli.runbook",
        "app",
        "Walk a runbook step by step, or list, show and lint runbooks; report and verify run records.",
    ),
    "db": (
        "ditsops.cli.db",
        "app",
        "PostgreSQL diagnostics (read-only) and backend terminate/cancel (with confirmation).",
    ),
    "k8s": (
        "ditsops.cli.k8s",
        "app",
        "Inspect and act on Dits deployments: status, logs, events, history, undo, restart, scale, set-env, "
        "rollout-status, create-job.",
    ),
    "prom": ("ditsops.cli.prom", "app", "Query Prometheus."),
    "dash": (
        "ditsops.cli.dash",
        "dash_command",
        "Render a Grafana dashboard from Prometheus: charts, stats, gauges, pies, heatmaps, tables.",
    ),
    "silence": (
        "ditsops.cli.alerts",
        "silence_app",
        "Alertmanager silences: add (with a preview and confirmation), list, expire.",
    ),
    "config": ("ditsops.cli.config", "app", "Show the effective configuration."),
    "store": (
        "ditsops.cli.store",
        "app",
        "The shared record store on PostgreSQL: init its schema, status, sync.",
    ),
    "incident": (
        "ditsops.cli.incident",
        "app",
        "Incidents shared through the record store: list, show, handoff, close.",
    ),
    "sandbox": (
        "ditsops.cli.sandbox",
        "app",
        "A disposable Dits incident environment on 127.0.0.1 to practise runbooks on: PostgreSQL, a Dits server "
        "simulator, an in-memory Kubernetes API, Prometheus and Alertmanager, and faults that make each alert fire.",
    ),
}


coercion.install()  # option values convert without importing pydantic (see cli/coercion.py)
helpwords.install()  # help in the command line's words: no Python types (see cli/helpwords.py)


class _RootGroup(TyperGroup):
    """The one place errors become a one-line message and a defined exit code; and the
    lazy loading of the command groups in LAZY_COMMANDS.

    Click's own usage errors (exit 2) are handled by click before this is reached.
    """

    _listing = False  # while the command list is drawn: summaries stand in for the commands

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(name for name in super().list_commands(ctx) if name not in LAZY_COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            if self._listing:
                return TyperCommand(name=cmd_name, help=LAZY_COMMANDS[cmd_name][2])
            self.commands[cmd_name] = _load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: typer.Context, formatter: click.HelpFormatter) -> None:
        with self._summaries_only():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: typer.Context, incomplete: str) -> list[CompletionItem]:
        with self._summaries_only():  # `ditsops <TAB>` offers names and help, importing no group
            return super().shell_complete(ctx, incomplete)

    def resolve_command(
        self, ctx: typer.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as error:  # typer's "Did you mean", over the lazy names too
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                error.message = f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        args = spell_out_watch_interval(args)  # `--watch 5s` (see cli/watcharg.py)
        return super().parse_args(ctx, globalargs.hoist(self, ctx, args))  # `... --profile x` (cli/globalargs.py)

    @contextmanager
    def _summaries_only(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def invoke(self, ctx):
        interrupted = False
        try:
            return self._invoke(ctx)
        except typer.Exit as leaving:
            interrupted = leaving.exit_code == ExitCode.INTERRUPTED
            raise
        finally:
            if not interrupted:  # Ctrl-C means "stop now", not "and then talk to the store"
                _sync_store(ctx)

    def _invoke(self, ctx):
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
        except BrokenPipeError:  # `… | head`: the reader has seen enough; no error to report
            _quiet_stdout()
            raise typer.Exit(ExitCode.OK) from None
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


def _load_command(name: str) -> click.Command:
    """The click command of a lazy entry, built as `app.add_typer`/`app.command` would."""
    module, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(rich_markup_mode=app.rich_markup_mode)
    holder.callback()(lambda: None)  # a callback keeps the holder a group even with one command
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


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
    output: GlobalOutputOption = "table",
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
    import ditsops.sandbox  # noqa: F401 - the hook: importing the sandbox registers its `sandbox` profile

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


def _sync_store(ctx: typer.Context) -> None:
    """After any command: what earlier runs left waiting goes to the record store (cli/storehook.py)."""
    if not isinstance(ctx.obj, AppState):
        return
    from ditsops.cli.storehook import sync_after_command

    try:
        sync_after_command(ctx.obj)
    except (Exception, KeyboardInterrupt):  # noqa: BLE001, S110 - a sync never changes how the command ended
        pass


def _quiet_stdout() -> None:
    """After a broken pipe, stdout goes to /dev/null so the interpreter's last flush is quiet."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


MAX_ERROR_CHARS = 2000


def _say(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from ditsops.base.secrets import redact_text
    from ditsops.render.cells import cut, one_line

    # One line, however long or many-lined the text a server put in it: bounded, no newline.
    shown = escape(cut(one_line(redact_text(message)), MAX_ERROR_CHARS))
    Console(stderr=True, highlight=False).print(f"[bold red]ditsops:[/] {shown}", soft_wrap=True)


def run() -> None:
    """Console-script entry point."""
    if os.environ.get("_DITSOPS_COMPLETE"):
        # add_completion=False (no --install-completion option) also skips registering
        # typer's shell completers, which the scripts in completions/ call back into.
        from typer._completion_classes import completion_init

        completion_init()
    app()
