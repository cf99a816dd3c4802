"""`runbook runs` and `incident list` read the record store through libpq itself
(store/reader.py), not psycopg: the same rows as a psycopg session, psycopg never imported;
a store that refuses, is lost, stays silent or has no loadable libpq is one line, and the
DSN's password is never shown."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from ditsops.base.errors import DitsopsError
from ditsops.clients import libpq
from ditsops.core.runs import RunFilter
from ditsops.incidents.listing import list_incidents, store_runs
from ditsops.store.connection import StoreRefused, StoreSession, StoreUnreachable, open_session
from ditsops.store.reader import ReadSession, open_reader
from tests.store_fixtures import engineer_dsn, store_db  # noqa: F401 - fixtures

START = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
HOSTILE = 'mallory "[red]x[/]" \u00fcn\u00efcode'
NO_SECRETS: frozenset[str] = frozenset()


def run_id(number: int) -> str:
    return f"{(START + timedelta(minutes=number)).strftime('%Y%m%dT%H%M%SZ')}-high-error-rate-{number:08x}"


@pytest.fixture(scope="module")
def filled(store_db: str) -> str:  # noqa: F811
    """30 runs in 3 incidents (the first closed), the last run by a hostile name, one with no end."""
    with psycopg.connect(store_db, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # rows made right by hand
        for n in range(3):
            conn.execute(
                "INSERT INTO ditsops.incidents (id, alert, labels, opened, opened_by) VALUES (%s, %s, %s, %s, %s)",
                (f"inc-00000{n}", "HighErrorRate", json.dumps({"service": "api"}), START + timedelta(hours=n), "ana"),
            )
        conn.execute(
            "INSERT INTO ditsops.incident_events (incident, seq, time, kind, who) VALUES ('inc-000000', 1, %s, "
            "'close', 'ana')",
            (START + timedelta(hours=5),),
        )
        for n in range(30):
            who = HOSTILE if n == 29 else f"eng{n % 4}@host"
            started = START + timedelta(minutes=n)
            conn.execute(
                "INSERT INTO ditsops.runs (id, runbook, who, profile, started, incident) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (run_id(n), "high-error-rate", who, "prod", started, f"inc-00000{n % 3}"),
            )
            start = {"event": "run-start", "source": "/r.yaml", "options": {"dry_run": n == 7}}
            end = {"event": "run-end", "exit_code": n % 4, "reason": f"resolved: run {n} \u2714"}
            for seq, body in enumerate([start, end] if n != 28 else [start], 1):
                conn.execute(
                    "INSERT INTO ditsops.events (run, seq, time, kind, body, line, prev, hash) "
                    "VALUES (%s, %s, %s, %s, %s, '', '', '')",
                    (run_id(n), seq, started + timedelta(seconds=seq), body["event"], json.dumps(body)),
                )
    return store_db


FILTERS = [
    RunFilter(),
    RunFilter(limit=None),
    RunFilter(limit=3, user="eng1@host"),
    RunFilter(limit=5, incident="inc-000002", since=START + timedelta(minutes=10)),
    RunFilter(runbook="no-such-book"),
]


@pytest.mark.parametrize("where", FILTERS, ids=lambda w: repr(w)[9:60])
def test_the_reader_lists_the_same_runs_as_a_psycopg_session(filled: str, where: RunFilter) -> None:
    reader, session = open_reader(filled, NO_SECRETS), open_session(filled, NO_SECRETS)
    try:
        assert isinstance(reader, ReadSession)
        assert store_runs(reader, where) == store_runs(session, where)
    finally:
        reader.close()
        session.close()


def test_the_reader_lists_the_same_incidents_as_a_psycopg_session(filled: str) -> None:
    reader, session = open_reader(filled, NO_SECRETS), open_session(filled, NO_SECRETS)
    try:
        for closed in (False, True):
            for limit in (1, 20, None):
                got = list_incidents(reader, limit=limit, closed=closed)
                assert got == list_incidents(session, limit=limit, closed=closed)
        shown, more = list_incidents(reader, limit=1, closed=True)
        assert [i.id for i in shown] == ["inc-000002"] and more and shown[0].labels == {"service": "api"}
    finally:
        reader.close()
        session.close()


# The console-script entry as the `ditsops` script runs it; then every module it imported.
_PROBE = """
import json, sys
sys.argv = ["ditsops", *sys.argv[1:]]
from ditsops.cli.main import run
try:
    run()
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
sys.stderr.write("\\n@@probe@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


def probe(home: Path, dsn: str, *args: str, timeout: float = 60) -> tuple[int, set[str], str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DITSOPS_", "PG"))}
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        COLUMNS="80",
        DITSOPS_RECORD_STORE=dsn,
    )
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    err, _, report = done.stderr.rpartition("\n@@probe@@")
    assert report, done.stderr[-2000:]
    result = json.loads(report)
    return result["code"] or 0, set(result["modules"]), done.stdout, err


def _psycopg(modules: set[str]) -> list[str]:
    """psycopg, and rich too: the listings print without it (render/lines.py)."""
    return sorted(m for m in modules if m in ("psycopg", "rich") or m.startswith(("psycopg.", "psycopg_", "rich.")))


def test_runs_and_incidents_from_the_store_import_neither_psycopg_nor_rich_and_show_text_as_text(
    filled: str,
    engineer_dsn: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    code, modules, out, err = probe(tmp_path, engineer_dsn, "runbook", "runs", "--limit", "3")
    assert (code, err) == (0, ""), err
    assert not _psycopg(modules), _psycopg(modules)
    lines = out.splitlines()
    assert len(lines) == 5 and all(len(line) <= 80 for line in lines), out
    assert "no end" in lines[2] and HOSTILE[:10] in lines[3]  # the name as text, never as markup
    assert lines[-1] == "(older runs not shown: --limit N or --all)"
    code, modules, out, err = probe(tmp_path, engineer_dsn, "incident", "list", "-o", "json")
    assert (code, err) == (0, ""), err
    assert not _psycopg(modules), _psycopg(modules)
    assert [i["id"] for i in json.loads(out)] == ["inc-000001", "inc-000002"]


def test_a_wrong_password_is_one_line_and_never_shown(filled: str, tmp_path: Path) -> None:
    user = filled.split("//", 1)[1].split(":", 1)[0]
    secret = "Not-the-Passw0rd"
    dsn = f"postgresql://{user}:{quote(secret)}@{filled.rsplit('@', 1)[1]}"
    code, _, out, err = probe(tmp_path, dsn, "incident", "list")
    assert code == 4 and out == "" and len(err.splitlines()) == 1, err
    assert "record store unreachable" in err and "password authentication failed" in err
    assert secret not in err
    # runbook runs says the store is out of reach, and lists this machine's records instead
    code, _, out, err = probe(tmp_path, dsn, "runbook", "runs")
    assert code == 0 and len(err.splitlines()) == 1 and "listing this machine's records" in err, err
    assert secret not in out + err and out.startswith("No runs recorded yet")


@pytest.fixture
def silent_store() -> Iterator[str]:
    """A server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"postgresql://ana:pw@127.0.0.1:{listener.getsockname()[1]}/store"
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def test_a_store_that_never_answers_is_given_up_in_one_line(silent_store: str, tmp_path: Path) -> None:
    code, _, out, err = probe(tmp_path, silent_store, "incident", "list")
    assert code == 4 and out == "" and len(err.splitlines()) == 1, err
    assert "record store unreachable at ana@127.0.0.1" in err and "timeout" in err


def test_a_refused_query_and_a_lost_session_say_which(filled: str) -> None:
    reader = open_reader(filled, NO_SECRETS)
    try:
        with pytest.raises(StoreRefused, match="the record store refused: division by zero"):
            reader.execute("SELECT 1 / 0")
        (pid,) = reader.execute("SELECT pg_backend_pid()").fetchall()[0]
        with psycopg.connect(filled, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (int(str(pid)),))
        with pytest.raises(StoreUnreachable, match="lost the record store at"):
            reader.execute("SELECT 1")
    finally:
        reader.close()


def test_a_query_with_a_stray_percent_is_refused_not_guessed() -> None:
    assert libpq.placeholders("SELECT %s, x FROM t WHERE y = %s") == "SELECT $1, x FROM t WHERE y = $2"
    with pytest.raises(ValueError, match="not a %s placeholder"):
        libpq.placeholders("SELECT '100%' WHERE x = %s")


def test_without_a_loadable_libpq_the_psycopg_session_answers(filled: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(libpq, "_LOADED", {"lib": None})
    session = open_reader(filled, NO_SECRETS)
    try:
        assert isinstance(session, StoreSession)
        runs, more = store_runs(session, RunFilter(limit=2))
        assert [r.run_id for r in runs] == [run_id(28), run_id(29)] and more
    finally:
        session.close()


def test_a_store_without_the_schema_is_refused_before_any_listing(filled: str) -> None:
    other = filled.rsplit("/", 1)[0] + "/postgres"
    with pytest.raises(DitsopsError, match="no ditsops schema"):
        open_reader(other, NO_SECRETS)


class _Answering:
    """A session whose store answers these rows to every query (a store gone wrong, or not
    ditsops's: hard to make a real PostgreSQL say)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def execute(self, query: str, params: Any = ()) -> Any:
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


@pytest.mark.parametrize(
    "row", [("not json",), ('{"a": 1}',), ("[1, 2]",), (json.dumps(["x", {"k": 1}] * 7),), (None,), ("[" * 5000,)]
)
def test_a_listing_answer_that_is_not_what_was_asked_is_one_line_exit_4(row: tuple[Any, ...]) -> None:
    for listing in (lambda s: store_runs(s, RunFilter()), lambda s: list_incidents(s, limit=20)):
        with pytest.raises(StoreUnreachable, match="not what ditsops asked for") as caught:
            listing(_Answering([row]))  # type: ignore[arg-type]
        assert caught.value.exit_code == 4
