"""What every command shares: global options, settings, consoles, the output format."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ditsops.core.config import Settings, load_settings
from ditsops.core.errors import UsageError
from ditsops.render.console import Consoles, make_consoles

# A Literal is a click Choice: --help lists the choices and a wrong one is a usage error (exit 2).
OutputFormat = Literal["table", "json"]
OUTPUT_HELP = "Output format: a table for people, or one JSON document for scripts."

# The same option is global (`ditsops -o json db activity`) and per command (`ditsops db
# activity -o json`), with the same meaning: the command's own, when given, wins.
OutputOption = Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP, show_default=False)]
GlobalOutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help=OUTPUT_HELP)]
DsnOption = Annotated[
    str | None,
    typer.Option("--dsn", help="PostgreSQL DSN (prefer DITSOPS_DSN: options are visible in ps).", show_default=False),
]
FullOption = Annotated[bool, typer.Option("--full", help="Show query text whole instead of cut to the terminal width.")]


@dataclass(frozen=True)
class Terminal:
    """What ditsops knows of where it runs, read once per command here in the cli layer
    (HTTPie's `Environment`): whether a person can type answers on stdin, and the variables
    the consoles take colour and width from (NO_COLOR, FORCE_COLOR, COLUMNS). Renderers get
    consoles built from it and never look at the process themselves."""

    stdin_isatty: bool
    environ: Mapping[str, str]

    @property
    def no_color(self) -> bool:
        return "NO_COLOR" in self.environ  # set at all, even empty: no colour

    @classmethod
    def current(cls) -> Terminal:
        return cls(stdin_isatty=sys.stdin.isatty(), environ=dict(os.environ))

    def consoles(self) -> Consoles:
        return make_consoles(no_color=self.no_color, environ=self.environ)


@dataclass
class AppState:
    profile: str | None = None
    config: Path | None = None
    output: OutputFormat = "table"
    debug: bool = False
    dsn: str | None = None
    kube_context: str | None = None
    namespace: str | None = None
    confirm_targets: tuple[str, ...] = ()  # --confirm-target: what --yes may approve on production
    ignore_lease: bool = False  # --ignore-lease
    terminal: Terminal = field(default_factory=Terminal.current)
    consoles: Consoles = field(default=None)  # type: ignore[assignment]  # built from the terminal

    def __post_init__(self) -> None:
        if self.consoles is None:
            self.consoles = self.terminal.consoles()

    def settings(self, **options: Any) -> Settings:
        given = {"dsn": self.dsn, "kube_context": self.kube_context, "namespace": self.namespace}
        merged = {**given, **{k: v for k, v in options.items() if v is not None}}
        return load_settings(profile=self.profile, config_path=self.config, options=merged)

    def output_format(self, override: OutputFormat | None) -> OutputFormat:
        """The command's own --output when given, else the global one."""
        return override or self.output

    def interactive(self, *, non_interactive: bool = False, json_output: bool = False) -> bool:
        """A person can answer prompts: stdin and the stream we talk on are terminals."""
        if non_interactive:
            return False
        talking_on = self.consoles.err if json_output else self.consoles.out
        return self.terminal.stdin_isatty and talking_on.is_terminal


def app_state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected key=value")
        values[key.strip()] = value
    return values
