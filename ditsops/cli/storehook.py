"""Where the cli hangs the record store off a run, and off every other command.

A run with a `record_store` gets a StoreWriter as its record's listener. Any command, once
it is done, sends what earlier runs left waiting when there is any (a marker in the runs
directory; without one this costs a directory listing and no connection). The store
being down is said once per command, on stderr, and changes no exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ditsops.render.cells import escape

if TYPE_CHECKING:
    from ditsops.cli.common import AppState
    from ditsops.core.config import Settings
    from ditsops.core.record import RunRecord
    from ditsops.store.events import SyncReport
    from ditsops.store.writer import StoreWriter

_SAID: set[str] = set()  # what this process already said about the store: once is enough


def _say_once(state: AppState, text: str) -> None:
    if text in _SAID:
        return
    _SAID.add(text)
    state.consoles.err.print(f"[warning]ditsops:[/] {escape(text)}", soft_wrap=True, highlight=False)


def _say_synced(state: AppState, report: SyncReport) -> None:
    if report.runs:
        state.consoles.err.print(f"[muted]{escape(report.summary())}[/]", soft_wrap=True, highlight=False)
    for problem in report.problems:
        _say_once(state, f"record store refused {problem} (ditsops runbook verify tells more)")


def attach_store(state: AppState, settings: Settings, record: RunRecord) -> StoreWriter | None:
    """The run's store writer, listening to its record; None without a record_store."""
    if not settings.record_store:
        return None
    from ditsops.store.writer import StoreWriter

    def down(reason: str) -> None:
        _SAID.add("unreachable")  # the after-command sync will not try again in this process
        _say_once(
            state,
            f"{reason}; the run goes on, recorded locally, and reaches the store at the next command that can",
        )

    writer = StoreWriter(
        settings.record_store,
        settings.secrets(),
        record.run_id,
        record.path.parent,
        on_down=down,
        on_synced=lambda report: _say_synced(state, report),
    )
    record.listeners.append(writer.listen)
    writer.start()
    return writer


def sync_after_command(state: AppState) -> None:
    """Send what the store lacks of earlier runs, if anything waits and a store is set.
    Never fails the command: the worst case is that the runs wait for the next one."""
    from ditsops.base.errors import DitsopsError
    from ditsops.store.outbox import pending_runs

    if "unreachable" in _SAID or not pending_runs():
        return
    try:
        settings = state.settings()
    except DitsopsError:
        return  # the command itself has said what is wrong with the settings
    if not settings.record_store:
        return
    from ditsops.store.connection import failed_before, open_session, where
    from ditsops.store.events import sync_pending

    store = where(settings.record_store)
    if failed_before(settings.record_store) or not pending_runs(store=store):
        return  # this command already waited for it, and said so; or nothing waits for this store

    try:
        session = open_session(settings.record_store, settings.secrets())
    except DitsopsError as error:
        _SAID.add("unreachable")
        _say_once(state, f"{error.message}; {len(pending_runs(store=store))} run(s) wait for it")
        return
    try:
        _say_synced(state, sync_pending(session))
    except DitsopsError as error:
        _say_once(state, f"{error.message}; the rest waits for the next command")
    finally:
        session.close()
