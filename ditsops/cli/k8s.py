"""`ditsops k8s ...`: Kubernetes reads and deployment actions with kubectl's semantics."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from ditsops.base.errors import ExitCode, UsageError
from ditsops.cli.common import OutputOption, app_state
from ditsops.cli.k8sread import emit_view, kube_client, logs_command
from ditsops.cli.launch import ActionFlags, DryRunOption, NonInteractiveOption, YesOption, run_action
from ditsops.cli.watch import IntervalOption, WatchOption, run_watch, watch_interval

app = typer.Typer(
    no_args_is_help=True,
    help="Inspect and act on Dits deployments: status, logs, events, history, "
    "undo, restart, scale, set-env, rollout-status, create-job.\n\nExample: ditsops k8s status dits-server",
)

Timeout = Annotated[str, typer.Option("--timeout", help="How long to follow the rollout (30s, 5m).")]


@app.callback()
def k8s(
    ctx: typer.Context,
    kube_context: Annotated[
        str | None, typer.Option("--context", help="Kubernetes context.", show_default=False)
    ] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace.", show_default=False)] = None,
) -> None:
    """Kubernetes reads and deployment actions.

    Example: ditsops k8s -n dits status
    """
    state = app_state(ctx)
    state.kube_context = kube_context or state.kube_context
    state.namespace = namespace or state.namespace


@app.command("status")
def status_command(
    ctx: typer.Context,
    deployment: Annotated[str | None, typer.Argument(help="Deployment (default: all).")] = None,
    selector: Annotated[str | None, typer.Option("--selector", "-l", help="Label selector.")] = None,
    output: OutputOption = None,
    watch: WatchOption = False,
    interval: IntervalOption = None,
) -> None:
    """Deployments (desired/updated/ready/available, revision, images, conditions) and their pods.

    With --watch, refreshed in place (as kubectl get -w) until q or Ctrl-C.

    Example: ditsops k8s status dits-server --watch
    """
    from ditsops.core import kube
    from ditsops.render.kube import render_status
    from ditsops.render.output import print_json

    state = app_state(ctx)
    json_output = state.output_format(output) == "json"
    every = watch_interval(watch, interval)
    client = kube_client(ctx, deployment)

    def draw(console) -> None:
        views = kube.status(client, deployment, selector)
        if json_output:
            print_json(console, [asdict(v) for v in views])
        else:
            render_status(console, views, client.target)

    try:
        if every is not None:
            run_watch(state, "k8s status", every, draw, json_output=json_output)
        draw(state.consoles.out)
    finally:
        client.close()


app.command("logs")(logs_command)


@app.command("events")
def events_command(
    ctx: typer.Context,
    deployment: Annotated[str | None, typer.Argument(help="Only objects of this name.")] = None,
    output: OutputOption = None,
    full: Annotated[bool, typer.Option("--full", help="Show messages whole instead of cut to the terminal.")] = False,
) -> None:
    """Recent events, newest first (warnings highlighted).

    Example: ditsops k8s events dits-server --full
    """
    from ditsops.core import kube
    from ditsops.render.kube import render_events

    client = kube_client(ctx, deployment)
    try:
        found = kube.events(client, deployment)
    finally:
        client.close()
    emit_view(
        ctx,
        output,
        [asdict(e) for e in found],
        lambda console: render_events(console, found, full=full),
        client.target,
    )


@app.command("history")
def history_command(
    ctx: typer.Context, deployment: Annotated[str, typer.Argument(help="Deployment.")], output: OutputOption = None
) -> None:
    """Rollout history: revision, images, change-cause, age, and which is current.

    Example: ditsops k8s history dits-server
    """
    from ditsops.core import kube
    from ditsops.render.kube import render_history

    client = kube_client(ctx, deployment)
    try:
        revisions = kube.history(client, client.get("deployments", deployment))
    finally:
        client.close()
    emit_view(
        ctx, output, [asdict(r) for r in revisions], lambda console: render_history(console, revisions), client.target
    )


@app.command("rollout-status")
def rollout_status_command(
    ctx: typer.Context, deployment: Annotated[str, typer.Argument(help="Deployment.")], timeout: Timeout = "5m"
) -> None:
    """Follow a rollout until it is done (exit 0) or the timeout passes (exit 1), like kubectl rollout status.

    Example: ditsops k8s rollout-status dits-server --timeout 2m
    """
    from ditsops.base.durations import parse_duration
    from ditsops.core.rollout import follow_rollout
    from ditsops.render.cells import escape_line

    console = app_state(ctx).consoles.out
    client = kube_client(ctx, deployment)
    try:
        seconds = parse_duration(timeout).total_seconds()
        message, done = follow_rollout(client, deployment, seconds, lambda text: console.print(escape_line(text)))
    except ValueError as error:
        raise UsageError(f"--timeout: {error}") from None
    finally:
        client.close()
    if not done:
        console.print(f"[failing]{escape_line(message)}[/]")
    raise typer.Exit(ExitCode.OK if done else ExitCode.ERROR)


def _act(ctx: typer.Context, kind: str, title: str, fields: dict[str, object], flags: ActionFlags) -> None:
    from ditsops.core.model import Step
    from ditsops.core.steps.kube import KubeSpec

    step = Step(id=f"k8s-{kind}", title=title, kind=f"kube:{kind}", spec=KubeSpec(fields))
    run_action(ctx, step, title, flags)


@app.command("undo")
def undo_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment.")],
    to_revision: Annotated[
        int, typer.Option("--to-revision", help="Revision to go back to (default: the previous one).", min=0)
    ] = 0,
    timeout: Timeout = "5m",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Roll back to the previous (or a given) revision, exactly like kubectl rollout undo.

    Example: ditsops k8s undo dits-server --to-revision 3
    """
    _act(
        ctx,
        "rollout-undo",
        f"Roll back {deployment}",
        {"deployment": deployment, "to_revision": to_revision, "timeout": timeout},
        ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output),
    )


@app.command("restart")
def restart_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment.")],
    timeout: Timeout = "5m",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Replace every pod (kubectl.kubernetes.io/restartedAt), like kubectl rollout restart.

    Example: ditsops k8s restart dits-server
    """
    _act(
        ctx,
        "restart",
        f"Restart {deployment}",
        {"deployment": deployment, "timeout": timeout},
        ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output),
    )


@app.command("scale")
def scale_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment.")],
    replicas: Annotated[int, typer.Option("--replicas", help="New number of replicas.", min=0)],
    current_replicas: Annotated[
        int | None, typer.Option("--current-replicas", help="Refuse unless it has exactly this many now.", min=0)
    ] = None,
    timeout: Timeout = "5m",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Scale through the scale subresource, with kubectl's --current-replicas precondition.

    Example: ditsops k8s scale dits-server --replicas 5 --current-replicas 3
    """
    fields = {"deployment": deployment, "replicas": replicas, "timeout": timeout}
    if current_replicas is not None:
        fields["current_replicas"] = current_replicas
    _act(
        ctx,
        "scale",
        f"Scale {deployment} to {replicas}",
        fields,
        ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output),
    )


@app.command("set-env")
def set_env_command(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="Deployment.")],
    assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE to set, KEY- to remove.")],
    container: Annotated[str | None, typer.Option("--container", "-c", help="Only this container.")] = None,
    timeout: Timeout = "5m",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Set (KEY=VALUE) or remove (KEY-) environment variables, like kubectl set env.

    Example: ditsops k8s set-env dits-server DATABASE_POOL_SIZE=50
    """
    env: dict[str, str | None] = {}
    for item in assignments:
        if item.endswith("-") and "=" not in item:
            env[item[:-1]] = None
        elif "=" in item and item.split("=", 1)[0]:
            key, value = item.split("=", 1)
            env[key] = value
        else:
            raise UsageError(f"{item!r}: expected KEY=VALUE or KEY-")
    fields = {"deployment": deployment, "env": env, "timeout": timeout}
    if container:
        fields["container"] = container
    _act(
        ctx,
        "set-env",
        f"Set env on {deployment}",
        fields,
        ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output),
    )


@app.command("create-job")
def create_job_command(
    ctx: typer.Context,
    from_cronjob: Annotated[str, typer.Option("--from-cronjob", help="The CronJob to run now.")],
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="The Job's name (default: <cronjob>-manual-<5 random characters>).", show_default=False
        ),
    ] = None,
    wait: Annotated[
        str, typer.Option("--wait", help="Follow the Job until it completes or fails, at most this long (0: do not).")
    ] = "0",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    non_interactive: NonInteractiveOption = False,
    output: OutputOption = None,
) -> None:
    """Run a CronJob now: a Job from its template, exactly like kubectl create job NAME --from=cronjob/CRON.

    Example: ditsops k8s create-job --from-cronjob dits-gc --wait 2m
    """
    from ditsops.core.jobs import MAX_NAME, check_name
    from ditsops.core.steps.kubejob import wait_seconds

    try:
        check_name(from_cronjob, "--from-cronjob")
        wait_seconds(wait)
        if name:
            check_name(name, "--name", MAX_NAME)
    except ValueError as error:
        raise UsageError(str(error)) from None
    fields = {"cronjob": from_cronjob, "wait": wait}
    if name:
        fields["name"] = name
    _act(
        ctx,
        "create-job",
        f"Run cronjob {from_cronjob} now",
        fields,
        ActionFlags(yes=yes, dry_run=dry_run, non_interactive=non_interactive, output=output),
    )
