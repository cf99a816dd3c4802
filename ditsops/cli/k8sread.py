"""`ditsops k8s logs` and what every `k8s` read shares: the checked client and the output.

Split from cli/k8s.py, which registers `logs_command` on the `k8s` app in its place.
"""

from __future__ import annotations

import math
from typing import Annotated, NoReturn

import typer

from ditsops.base.errors import ExitCode, UsageError
from ditsops.cli.common import OutputOption, app_state

MAX_FOLLOWED = 50  # pods followed at once by `logs -f` (one stream each), as many as `logs` reads


def kube_client(ctx: typer.Context, name: str | None = None):
    """The client; `name` (a deployment the command reads) checked as DNS-1123 first."""
    from ditsops.core import connect
    from ditsops.core.names import subdomain_problem

    if name is not None and (problem := subdomain_problem(name)):
        raise UsageError(f"deployment: {problem}")
    return connect.kube(app_state(ctx).settings())


def emit_view(ctx: typer.Context, output: str | None, data, render, target=None) -> None:
    """JSON, or the target header (context, server, namespace) and the table view."""
    from ditsops.render.kube import render_target
    from ditsops.render.output import print_json

    state = app_state(ctx)
    if state.output_format(output) == "json":
        print_json(state.consoles.out, data)
        return
    if target is not None:
        render_target(state.consoles.out, target)
    render(state.consoles.out)


def logs_command(
    ctx: typer.Context,
    selector: Annotated[
        str, typer.Option("--selector", "-l", help="Label selector of the pods, e.g. app=dits-server.")
    ],
    tail: Annotated[int, typer.Option("--tail", help="Lines per pod.", min=1)] = 100,
    grep: Annotated[str | None, typer.Option("--grep", help="Only lines matching this regular expression.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only lines newer than this (10m).")] = None,
    previous: Annotated[
        bool, typer.Option("--previous", help="The previous container's logs (after a crash).")
    ] = False,
    container: Annotated[str | None, typer.Option("--container", "-c", help="Container name.")] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep following every matching pod (new lines as they are written) until q or Ctrl-C (exit 0); "
            "with -o json, one JSON object per line.",
        ),
    ] = False,
    output: OutputOption = None,
) -> None:
    """Logs of every pod matching a selector, merged in time order, each line prefixed with its pod.

    Example: ditsops k8s logs -l app=dits-server --tail 100 --grep ERROR
    """
    import re

    from ditsops.base.durations import parse_duration
    from ditsops.core import kube
    from ditsops.render.kube import render_logs

    try:
        # kubectl rounds up too: --since 500ms is the last second, never sinceSeconds=0 (rejected)
        since_seconds = math.ceil(parse_duration(since).total_seconds()) if since else None
        if grep:
            re.compile(grep)
    except (ValueError, re.error) as error:
        raise UsageError(str(error)) from None
    if follow and previous:
        raise UsageError("--follow and --previous cannot be used together: a previous container writes no more")
    client = kube_client(ctx)
    try:
        if follow:
            _follow_logs(ctx, client, selector, tail, since_seconds, grep, container, output)
        lines, pods = kube.logs(
            client, selector, tail=tail, since_seconds=since_seconds, previous=previous, grep=grep, container=container
        )
    finally:
        client.close()
    emit_view(
        ctx,
        output,
        [{"pod": line.pod, "time": line.time, "line": line.text} for line in lines],
        lambda console: render_logs(console, lines, pods),
        client.target,
    )


def _follow_logs(ctx, client, selector, tail, since_seconds, grep, container, output) -> NoReturn:
    """`k8s logs -f`: every matching pod followed, their lines merged in time order, until
    q or Ctrl-C (exit 0) or every pod is gone."""
    import json
    import re
    import sys

    from ditsops.cli.watch import Keys
    from ditsops.core.kubelogs import follow
    from ditsops.render.cells import escape
    from ditsops.render.kube import render_target
    from ditsops.render.watch import render_log_line, render_log_stream_end

    state = app_state(ctx)
    out, err = state.consoles.out, state.consoles.err
    json_output = state.output_format(output) == "json"
    pods = [p["metadata"]["name"] for p in client.list("pods", selector=selector, limit=MAX_FOLLOWED)]
    if not pods:
        err.print(f"No pods match {escape(selector)} in namespace {client.namespace}.", soft_wrap=True, highlight=False)
        raise typer.Exit(ExitCode.OK)
    width = max(len(pod) for pod in pods)
    if not json_output:
        render_target(out, client.target)

    def emit(line) -> None:
        if json_output:
            out.file.write(
                json.dumps({"pod": line.pod, "time": line.time, "line": line.text}, ensure_ascii=False) + "\n"
            )
            out.file.flush()
        else:
            render_log_line(out, line.pod, line.text, width)

    pattern = re.compile(grep) if grep else None
    # q on the terminal leaves, as in --watch (cbreak: no Enter, no echo; Ctrl-C still
    # interrupts); the terminal's mode is restored on every way out
    keys = Keys(sys.stdin.fileno() if state.terminal.stdin_isatty else None)
    try:
        with keys:
            follow(
                client,
                pods,
                emit=emit,
                ended=lambda end: render_log_stream_end(err, end.pod, end.reason),
                tail=tail,
                since_seconds=since_seconds,
                container=container,
                keep=(lambda text: pattern.search(text) is not None) if pattern else (lambda _: True),
                until=keys.wait_for_quit if keys.fd is not None else None,
            )
    except KeyboardInterrupt:
        pass  # Ctrl-C is the other way to stop following
    raise typer.Exit(ExitCode.OK)
