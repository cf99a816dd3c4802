"""The one way a run starts: runbooks, and destructive direct commands as one-step runbooks.

The safety options are declared here, once, with one help text each, and gathered into
`ActionFlags`. `RunLaunch` follows kubectl's `UndoOptions`: `complete` fills in what the
global state decides (settings, output format, whether a person can answer), `validate`
checks the run before anything is contacted, `run` chooses the interaction, creates the
record, builds the target header and calls the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ditsops.cli.common import AppState, OutputFormat, app_state
from ditsops.render.cells import escape

if TYPE_CHECKING:
    from ditsops.core.config import Settings
    from ditsops.core.engine import RunOutcome
    from ditsops.core.model import Runbook, Step
    from ditsops.core.resume import Prior
    from ditsops.incidents.joining import AlertRef

YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Confirm destructive steps in advance: act on what the preview shows without asking.",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Run diagnostics and preview every action; apply none."),
]
NonInteractiveOption = Annotated[
    bool,
    typer.Option("--non-interactive", help="Never prompt: destructive steps are refused (exit 5) unless --yes."),
]


@dataclass(frozen=True, kw_only=True)
class ActionFlags:
    """The run's options as given on its command line (the global ones come from AppState)."""

    yes: bool = False
    dry_run: bool = False
    non_interactive: bool = False
    output: OutputFormat | None = None
    full: bool = False
    show_queries: bool = False  # runbook run --show-queries: named diagnostics with their SQL
    verbose: bool = False  # a walk drawn whole, every step (default: the compact walk)


@dataclass(frozen=True)
class RunLaunch:
    """A run about to start, completed from the flags and the global state."""

    flags: ActionFlags
    state: AppState
    settings: Settings
    json_output: bool
    interactive: bool  # a person at a terminal can answer the questions

    @classmethod
    def complete(cls, ctx: typer.Context, flags: ActionFlags, **settings_options: Any) -> RunLaunch:
        """settings_options: command-line settings of this command (dsn=...) over the global ones."""
        state = app_state(ctx)
        json_output = state.output_format(flags.output) == "json"
        return cls(
            flags=flags,
            state=state,
            settings=state.settings(**settings_options),
            json_output=json_output,
            interactive=state.interactive(non_interactive=flags.non_interactive, json_output=json_output),
        )

    @property
    def mode(self) -> str:
        """How the run treats destructive steps, for the header."""
        if self.flags.dry_run:
            return "dry run"
        if self.interactive:
            return "interactive"
        if self.flags.yes:
            return "non-interactive, --yes"
        return "non-interactive (destructive steps refused without --yes)"

    def validate(self, runbook: Runbook, params: dict[str, Any]) -> None:
        """Before any step runs: every Kubernetes name the steps will use is DNS-1123 (else exit 2)."""
        from ditsops.core.names import check_run_names

        check_run_names(runbook, params, self.settings)

    def run(
        self,
        runbook: Runbook,
        params: dict[str, Any],
        *,
        from_step: str | None = None,
        elapsed_before: float = 0.0,
        resumed: Prior | None = None,
        whole_incident: bool = False,
        alert: AlertRef | None = None,
        target_name: str | None = None,
        incident: str | None = None,
    ) -> RunOutcome:
        """whole_incident: a runbook walk reads the alerts firing now (its header, its
        `unless_firing:` guards, its verdict); a direct command does not. alert: the firing
        alert the run answers; target_name: a direct command's target; incident: an incident
        to join by id (a resumed run joins its parent's). Each joins the run to its incident,
        see ditsops/incidents/joining.py."""
        from functools import partial

        from ditsops.cli.interactions import interaction_for
        from ditsops.cli.storehook import attach_store
        from ditsops.core import steps as step_kinds
        from ditsops.core.alerting import firing_now
        from ditsops.core.engine import RunOptions, run_runbook
        from ditsops.core.record import RunRecord
        from ditsops.core.target import header

        ui = interaction_for(
            self.state.consoles,
            json_output=self.json_output,
            full=self.flags.full,
            mode=self.mode,
            show_queries=self.flags.show_queries,
            compact=whole_incident and not (self.flags.verbose or self.flags.show_queries),
        )
        target = header(self.settings, [step_kinds.kind_of(step.kind).target for step in runbook.steps])
        if runbook.source is not None:
            from ditsops.core.catalog import shadowed
            from ditsops.render.runbook import file_line

            shadows = shadowed(runbook.source)
            if shadows:  # an own runbook hides the shipped one of that name: say which file runs
                target.insert(0, file_line(runbook.source, shadows))
        if resumed is not None:  # the header says which run this one continues
            target.insert(0, ("resumes", f"run {resumed.run_id}"))
        record = RunRecord.create(runbook.name, self.settings.secrets())
        if incident is None and resumed is not None:
            incident = resumed.incident  # a resumed run joins its parent's incident
        incident = self._join(record.run_id, runbook.name, alert, target_name, incident)
        store = attach_store(self.state, self.settings, record)
        options = RunOptions(
            interactive=self.interactive,
            assume_yes=self.flags.yes,
            dry_run=self.flags.dry_run,
            from_step=from_step,
            elapsed_before=elapsed_before,
            confirm_targets=self.state.confirm_targets,
            ignore_lease=self.state.ignore_lease,
            resumed=resumed,
            firing=partial(firing_now, self.settings) if whole_incident else None,
            incident=incident,
        )
        try:
            return run_runbook(runbook, params, self.settings, ui, options, record, target)
        finally:
            record.close()
            if store is not None:
                store.finish()

    def _join(
        self, run_id: str, runbook: str, alert: AlertRef | None, target_name: str | None, incident: str | None
    ) -> str | None:
        """The incident the run joins (said on stderr, so stdout stays the run's), or None."""
        if not self.settings.record_store or self.flags.dry_run or (alert is None and not target_name and not incident):
            return None
        from ditsops.incidents.joining import join_for_run

        joined = join_for_run(self.settings, run_id, runbook, alert=alert, target=target_name, incident=incident)
        err = self.state.consoles.err
        if joined.problem:
            err.print(f"[warning]ditsops:[/] {escape(joined.problem)}", soft_wrap=True, highlight=False)
        elif joined.incident:
            how = "opened" if joined.opened else "joined"
            err.print(f"[muted]incident {escape(joined.incident)} {how}[/]", soft_wrap=True, highlight=False)
        return joined.incident


def target_of(step: Step, settings: Settings) -> str | None:
    """What a direct destructive command acts on, as the incidents know targets: the
    deployment, the database, the alert a silence names."""
    from ditsops.core.steps.kube import KubeSpec
    from ditsops.core.steps.silence import SilenceSpec

    spec = step.spec
    if isinstance(spec, KubeSpec):
        name = spec.fields.get("deployment") or spec.fields.get("cronjob")
        return str(name) if name else None
    if isinstance(spec, SilenceSpec):
        for matcher in spec.matchers:
            if matcher.startswith("alertname=") and "=~" not in matcher:
                return matcher.split("=", 1)[1].strip('"') or None
        return None
    if step.kind.endswith("-backends") and settings.dsn:
        from ditsops.base.errors import DitsopsError
        from ditsops.clients.postgres import describe_target

        try:
            return describe_target(settings.dsn).dbname
        except DitsopsError:
            return None
    return None


def run_action(ctx: typer.Context, step: Step, title: str, flags: ActionFlags, **settings_options: Any) -> None:
    """Run one destructive step as a one-step runbook: the same preview, confirmation,
    refusal rules, exit codes and run record as inside a runbook."""
    from ditsops.core.model import Runbook
    from ditsops.core.results import Status

    launch = RunLaunch.complete(ctx, flags, **settings_options)
    runbook = Runbook(name=step.id, title=title, steps=(step,))
    launch.validate(runbook, {})
    target_name = target_of(step, launch.settings) if launch.settings.record_store else None
    outcome = launch.run(runbook, {}, target_name=target_name)
    for done in outcome.steps:
        if done.result.status == Status.ERROR:
            # A direct command's failure also goes to stderr, as one line, for scripts.
            launch.state.consoles.err.print(f"[bold red]ditsops:[/] {escape(done.result.summary)}", soft_wrap=True)
    raise typer.Exit(outcome.exit_code)
