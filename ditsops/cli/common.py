"""What every command shares: global options, settings, consoles, the output format."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ditsops.base.errors import UsageError

if TYPE_CHECKING:  # imported where used: `ditsops --help` needs neither the config nor the consoles
    from rich.console import Console

    from ditsops.core.config import Settings
    from ditsops.render.console import Consoles
    from ditsops.render.lines import Out

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
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Every step whole: queries, every table, every log message (default: one line per step that is fine).",
    ),
]


@dataclass(frozen=True)
class Terminal:
    """What ditsops knows of where it runs, read once per command here in the cli layer
    (HTTPie's `Environment`): whether a person can type answers on stdin, which streams are
    terminals, and the variables the consoles take colour and width from (NO_COLOR,
    FORCE_COLOR, COLUMNS). Renderers get consoles built from it and never look at the
    process themselves."""

    stdin_isatty: bool
    environ: Mapping[str, str]
    stdout_isatty: bool = False
    stderr_isatty: bool = False

    @property
    def no_color(self) -> bool:
        return "NO_COLOR" in self.environ  # set at all, even empty: no colour

    @classmethod
    def current(cls) -> Terminal:
        return cls(
            stdin_isatty=sys.stdin.isatty(),
            environ=dict(os.environ),
            stdout_isatty=sys.stdout.isatty(),
            stderr_isatty=sys.stderr.isatty(),
        )

    def out(self) -> Out:
        """stdout for the listings that print without rich (render/lines.py)."""
        from ditsops.render.lines import out_for

        return out_for(sys.stdout, isatty=self.stdout_isatty, environ=self.environ)

    def consoles(self) -> Consoles:
        from ditsops.render.console import make_consoles

        consoles = make_consoles(no_color=self.no_color, environ=self.environ)
        consoles.ask = self._questions_console(consoles)
        return consoles

    def _questions_console(self, consoles: Consoles) -> Console | None:
        """Where a person's questions go when stdout is not the terminal (`... | tee log`):
        stderr if it is the terminal, else the controlling terminal itself (`2>&1 | tee`).
        The real file descriptors decide, never FORCE_COLOR. None: with the walk on stdout."""
        if not self.stdin_isatty or self.stdout_isatty:
            return None  # nobody answers, or the walk is on the terminal already
        if self.stderr_isatty:
            return consoles.err
        try:
            tty = open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the command
        except OSError:
            return consoles.err  # no controlling terminal: stderr is the nearest thing
        from rich.console import Console

        from ditsops.render.console import THEME

        return Console(file=tty, theme=THEME, no_color=self.no_color, highlight=False, _environ=self.environ)


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
    warned: set[str] = field(default_factory=set)  # settings warnings already printed
    _consoles: Consoles | None = field(default=None, repr=False)

    @property
    def consoles(self) -> Consoles:
        """The rich consoles, built from the terminal when first used: a listing that
        prints without rich (Terminal.out) never imports it."""
        if self._consoles is None:
            self._consoles = self.terminal.consoles()
        return self._consoles

    @consoles.setter
    def consoles(self, consoles: Consoles) -> None:
        self._consoles = consoles

    def settings(self, **options: Any) -> Settings:
        from ditsops.core.config import load_settings

        given = {"dsn": self.dsn, "kube_context": self.kube_context, "namespace": self.namespace}
        merged = {**given, **{k: v for k, v in options.items() if v is not None}}
        settings = load_settings(profile=self.profile, config_path=self.config, options=merged)
        for warning in settings.warnings:  # each said once per command, however often settings are read
            if warning not in self.warned:
                self.warned.add(warning)
                self.consoles.err.print(f"ditsops: warning: {warning}", markup=False, highlight=False, soft_wrap=True)
        from ditsops.core.identity import set_identity

        set_identity(settings.user)  # records, leases and incidents name the engineer so
        return settings

    def output_format(self, override: OutputFormat | None) -> OutputFormat:
        """The command's own --output when given, else the global one."""
        return override or self.output

    def interactive(self, *, non_interactive: bool = False, json_output: bool = False) -> bool:
        """A person can answer prompts: stdin is a terminal, whatever stdout is (`| tee
        incident.log` still asks; the questions go to the terminal, see Terminal). Colour
        variables (FORCE_COLOR, NO_COLOR, TERM) never decide it. `json_output` is accepted
        for the callers that pass it; the questions then go to stderr or the terminal."""
        if non_interactive:
            return False
        return self.terminal.stdin_isatty


def app_state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def parse_assignments(items: list[str] | None, option: str = "--set") -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} {item!r}: expected key=value")
        values[key.strip()] = value
    return values
