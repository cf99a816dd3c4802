"""`ditsops runbook ...`: run, list, show, lint, report and verify runbooks and their runs.

The group's commands live in their own modules and each is imported, and turned into a
click command, only when it is invoked (as the top-level groups are, cli/main.py):
`runbook runs` then pays for the listing, not for the walk's options and imports.
"""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperGroup

# name -> (module, function), in the order `ditsops runbook --help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ditsops.cli.runbook_run", "run_command"),
    "list": ("ditsops.cli.runbook_catalog", "list_command"),
    "show": ("ditsops.cli.runbook_catalog", "show_command"),
    "lint": ("ditsops.cli.runbook_catalog", "lint_command"),
    "report": ("ditsops.cli.runbook_catalog", "report_command"),
    # its anchors: the store, the ticket hash
    "verify": ("ditsops.cli.verify", "verify_command"),
    # runs from the local records or the store
    "resume": ("ditsops.cli.resume", "resume_command"),
    # local records through their index, or the store
    "runs": ("ditsops.cli.runs", "runs_command"),
}


class _RunbookGroup(TyperGroup):
    """`ditsops runbook NAME ...` means `ditsops runbook run NAME ...`; each command is
    loaded when asked for."""

    def list_commands(self, ctx) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.commands[cmd_name] = _load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in COMMANDS and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx, incomplete: str):
        # `ditsops runbook <TAB>` offers runbook names too: running one is the main use.
        from typer._click.shell_completion import CompletionItem

        return super().shell_complete(ctx, incomplete) + [CompletionItem(n) for n in complete_runbook(incomplete)]


app = typer.Typer(
    cls=_RunbookGroup,
    no_args_is_help=True,
    help="Walk a runbook step by step, or list, show and lint runbooks; report and verify run records.\n\n"
    "Example: ditsops runbook db-connections-exhausted --set older_than=2m",
)


def _load(name: str):
    """The click command of one entry of COMMANDS, built as `app.command(name)` would."""
    import typer.main

    module, attribute = COMMANDS[name]
    holder = typer.Typer(rich_markup_mode=app.rich_markup_mode)
    holder.callback()(lambda: None)  # a callback keeps the holder a group even with one command
    holder.command(name)(getattr(importlib.import_module(module), attribute))
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


def complete_runbook(incomplete: str) -> list[str]:
    from ditsops.core.catalog import runbook_files

    return [p.stem for p in runbook_files() if p.stem.startswith(incomplete)]
