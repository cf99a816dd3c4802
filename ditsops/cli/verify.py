"""`ditsops runbook verify`: a record's chain, its end, and its anchors.

The chain alone shows a line changed, inserted, removed or reordered, but not a record
rewritten with every hash after the edit recomputed, nor one whose last lines were cut
at a line end. The anchors do: the shared store (each line against the store's event) and
the ticket (`--expect-hash`, the last line's SHA-256 printed at the end of the run).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ditsops.base.errors import DitsopsError, ExitCode
from ditsops.cli.common import AppState, OutputOption, app_state
from ditsops.render.cells import escape

if TYPE_CHECKING:
    from ditsops.core.record import Check
    from ditsops.store.anchor import Anchor

NO_STORE = (
    "no anchor: no record store configured (record_store); the chain alone cannot show a record "
    "rewritten with its hashes recomputed, or cut at a line end"
)


def verify_command(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Argument(help="Run id (or prefix, or path); default: the last run.")] = None,
    expect_hash: Annotated[
        str | None,
        typer.Option(
            "--expect-hash",
            help="The record's last-line SHA-256 as noted in the ticket (printed at the end of the run): "
            "the record must still end there.",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Check a run record's hash chain, its end, and its anchors (the store, the ticket hash).

    Exit 0: record intact, ended with its run-end, and no anchor disagrees. Exit 1: the first
    line changed, inserted, removed or reordered is named; a line that is not JSON or has no
    `prev`; a record without a chain (older ditsops); a record cut short of its run-end
    (a run still writing is reported as in progress instead, exit 0); a line that differs
    from the store's event, or a store row edited; fewer lines than the store holds; a last
    line other than --expect-hash.

    With a record_store the record is checked against the store ("anchored in the store: 14
    events match"); without one verify says "no anchor".

    Example: ditsops runbook verify 20261207T0312 --expect-hash 3f2a…
    """
    from ditsops.core.record import find_run, read_record
    from ditsops.render.output import print_json
    from ditsops.store.anchor import check_hash, ticket_anchor

    state = app_state(ctx)
    fmt = state.output_format(output)
    expected = check_hash(expect_hash) if expect_hash is not None else None
    path = find_run(run)
    check = read_record(path).check
    anchors = [_store_anchor(state, path, check)]
    if expected is not None:
        anchors.append(ticket_anchor(path, expected))
    verified = check.ok and not check.cut_short and not any(anchor.failed for anchor in anchors)
    if fmt == "json":
        print_json(
            state.consoles.out,
            {
                "run": path.stem,
                "path": str(path),
                **check.to_json(),
                "cut_short": check.cut_short,
                "anchors": [anchor.to_json() for anchor in anchors],
                "verified": verified,
            },
        )
    else:
        _render(state, path, check, anchors)
    raise typer.Exit(ExitCode.OK if verified else ExitCode.ERROR)


def _render(state: AppState, path: Path, check: Check, anchors: list[Anchor]) -> None:
    out = state.consoles.out
    style = "ok" if check.ok else "bold red"
    out.print(f"[{style}]{escape(check.summary())}[/]", soft_wrap=True)
    end = check.end_summary()
    if end:
        out.print(f"[{'bold red' if check.cut_short else 'warning'}]{escape(end)}[/]", soft_wrap=True)
    for anchor in anchors:
        style = {"match": "ok", "mismatch": "bold red", "none": "warning"}[anchor.status]
        out.print(f"[{style}]{escape(anchor.summary)}[/]", soft_wrap=True, highlight=False)
    out.print(f"[muted]{escape(str(path))}[/]", soft_wrap=True, highlight=False)
    if check.head:
        out.print(f"[muted]last line sha256: {check.head}[/]", soft_wrap=True, highlight=False)


def _store_anchor(state: AppState, path: Path, check: Check) -> Anchor:
    """The record against the store; what the store lacks of a waiting run is sent first."""
    from ditsops.store.anchor import Anchor, store_anchor
    from ditsops.store.connection import open_session, where
    from ditsops.store.events import complete_lines, record_run_id, sync_record
    from ditsops.store.outbox import pending_runs

    settings = state.settings()
    if not settings.record_store:
        return Anchor("store", "none", NO_STORE)
    try:
        session = open_session(settings.record_store, settings.secrets())
    except DitsopsError as error:
        return Anchor("store", "none", f"no anchor: {error.message}")
    try:
        if record_run_id(complete_lines(path), path) in pending_runs(store=where(settings.record_store)):
            try:
                sync_record(session, path)
            except DitsopsError:
                pass  # refused: the comparison below says where the record and the store part
        return store_anchor(session, path, running=check.running)
    except DitsopsError as error:
        return Anchor("store", "none", f"no anchor: {error.message}")
    finally:
        session.close()
