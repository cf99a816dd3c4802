"""Records whose integrity can be proved: `runbook verify` checks a record against its
anchors (the store, the hash noted in the ticket) and its end. Each forgery is written as
the forger would: a record rewritten with every hash after the edit recomputed, its last
lines cut at a line end, a store row edited by a superuser with the triggers off."""

from __future__ import annotations

import json
import re

import pytest

from ditsops.core.record import RunRecord
from tests import store_fixtures
from tests.cli import run_cli
from tests.store_fixtures import as_superuser_without_triggers, local_hashes, only_record, rechain

pytestmark = pytest.mark.services

# the shared fixtures, bound here by name so pytest finds them
engineer_dsn = store_fixtures.engineer_dsn
store_db = store_fixtures.store_db
store_env = store_fixtures.store_env
tiny = store_fixtures.tiny


@pytest.fixture
def stored_run(store_env, isolated_home, tiny):
    """A finished run of the tiny runbook, in the store: (record path, the ticket hash printed)."""
    done = run_cli("runbook", str(tiny), "--non-interactive", env=store_env)
    assert done.returncode == 0, done.stdout + done.stderr
    ticket = re.search(r"Record sha256 for the ticket: ([0-9a-f]{64})", done.stdout)
    assert ticket, done.stdout
    path = only_record(isolated_home)
    assert ticket.group(1) == local_hashes(path)[-1]
    return path, ticket.group(1)


def verify(*args: str, env: dict[str, str] | None = None):
    return run_cli("runbook", "verify", *args, env={"COLUMNS": "80", **(env or {})})


def forge_decline(path) -> None:
    """Turn the run's first note step into a skipped one, and make the record's own chain hold again."""
    lines = path.read_bytes().splitlines()
    entries = [json.loads(line) for line in lines]
    at = next(n for n, e in enumerate(entries) if e.get("event") == "step")
    entries[at]["summary"] = "skipped by the engineer"
    lines[at] = json.dumps(entries[at], ensure_ascii=False).encode()
    path.write_bytes(b"\n".join(rechain(lines, path.stem)) + b"\n")


def test_an_intact_run_is_anchored_in_the_store_and_by_its_ticket(stored_run, store_env):
    path, ticket = stored_run
    done = verify(path.stem, "--expect-hash", ticket, env=store_env)
    assert done.returncode == 0, done.stdout
    count = len(local_hashes(path))
    assert done.stdout.splitlines()[:3] == [
        f"record intact: {count} lines, chain verified",
        f"anchored in the store: {count} events match",
        f"anchored by the ticket hash: line {count}, the last, matches",
    ]
    data = json.loads(verify(path.stem, "-o", "json", env=store_env).stdout)
    assert data["verified"] is True and data["ended"] is True and data["cut_short"] is False
    assert [(a["kind"], a["status"], a["events"]) for a in data["anchors"]] == [("store", "match", count)]


def test_a_rewritten_record_with_recomputed_hashes_is_caught_by_both_anchors(stored_run, store_env):
    path, ticket = stored_run
    forge_decline(path)
    alone = verify(path.stem)  # no store configured: the chain alone is fooled, and verify says so
    assert alone.returncode == 0
    assert "no anchor: no record store configured" in alone.stdout
    done = verify(path.stem, env=store_env)
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines()[0].startswith("record intact")  # the chain holds: only the anchor knows
    assert "differs from the store's event" in done.stdout and "the record was rewritten" in done.stdout
    ticketed = verify(path.stem, "--expect-hash", ticket)
    assert ticketed.returncode == 1
    assert "the ticket hash matches no line: the record was rewritten or cut after it was noted" in ticketed.stdout


def test_a_record_cut_at_a_line_end_is_caught(stored_run, store_env):
    path, ticket = stored_run
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))  # run-end and the line before it gone, cleanly
    alone = verify(path.stem)
    assert alone.returncode == 1
    assert f"record cut short: no run-end after line {len(lines) - 2}" in alone.stdout
    done = verify(path.stem, env=store_env)
    assert done.returncode == 1
    assert f"the record is cut: the store holds {len(lines)} events, the record {len(lines) - 2} lines" in done.stdout
    ticketed = verify(path.stem, "--expect-hash", ticket)
    assert ticketed.returncode == 1 and "matches no line" in ticketed.stdout
    data = json.loads(verify(path.stem, "-o", "json").stdout)
    assert data["status"] == "intact" and data["cut_short"] is True and data["verified"] is False


def test_an_edited_store_row_is_caught(stored_run, store_env, store_db):
    path, _ = stored_run
    as_superuser_without_triggers(
        store_db,
        "UPDATE ditsops.events SET body = jsonb_set(body, '{reason}', '\"resolved by mallory\"') "
        "WHERE run = %s AND kind = 'run-end'",
        (path.stem,),
    )
    done = verify(path.stem, env=store_env)
    assert done.returncode == 1
    assert "its body is not its line (the row was edited)" in done.stdout


def test_a_store_row_rewritten_line_and_hash_is_caught(stored_run, store_env, store_db):
    path, _ = stored_run
    as_superuser_without_triggers(
        store_db,
        "UPDATE ditsops.events SET line = replace(line, 'Read', 'Skip'), "
        "hash = encode(sha256(convert_to(replace(line, 'Read', 'Skip'), 'UTF8')), 'hex'), "
        "body = replace(line, 'Read', 'Skip')::jsonb WHERE run = %s AND line LIKE '%%Read the server%%'",
        (path.stem,),
    )
    done = verify(path.stem, env=store_env)
    assert done.returncode == 1
    assert "(a row was edited)" in done.stdout


def test_a_wrong_or_malformed_ticket_hash(stored_run):
    path, ticket = stored_run
    first = local_hashes(path)[0]
    done = verify(path.stem, "--expect-hash", first)
    assert done.returncode == 1
    assert f"the ticket hash is line 1's, but the record goes on to line {len(local_hashes(path))}" in done.stdout
    bad = verify(path.stem, "--expect-hash", "abc")
    assert bad.returncode == 2
    assert "expected a SHA-256 in hex" in bad.stderr
    assert verify(path.stem, "--expect-hash", ticket.upper()).returncode == 0


def test_a_run_still_writing_is_in_progress_not_cut(isolated_home):
    record = RunRecord.create("practice", frozenset(), isolated_home.state / "ditsops" / "runs")
    record.write("run-start", runbook="practice", by="ana@laptop")
    record.write("step", step="look", status="ok")
    done = verify(record.run_id)
    assert done.returncode == 0, done.stdout
    assert "run still in progress: 2 lines so far, no run-end yet (its writer is alive)" in done.stdout
    record.close()  # the writer is gone without a run-end: now it is cut short
    done = verify(record.run_id)
    assert done.returncode == 1
    assert "record cut short: no run-end after line 2" in done.stdout


def test_the_report_says_whether_a_record_without_run_end_is_still_going(isolated_home):
    record = RunRecord.create("practice", frozenset(), isolated_home.state / "ditsops" / "runs")
    record.write("run-start", runbook="practice", by="ana@laptop")
    going = run_cli("runbook", "report", "--markdown", record.run_id)
    assert "- **Ended:** not yet: the run is still going (its writer is alive)" in going.stdout
    record.close()
    cut = run_cli("runbook", "report", "--markdown", record.run_id)
    assert "- **Ended:** no run-end: the record stops here (the run was killed, or its last lines removed)" in (
        cut.stdout
    )


def test_a_run_killed_mid_walk_is_in_progress_until_its_process_dies(isolated_home, tiny):
    import os
    import signal
    import sys

    import pexpect

    child = pexpect.spawn(
        sys.executable, ["-m", "ditsops", "runbook", str(tiny)], env=dict(os.environ), encoding="utf-8", timeout=30
    )
    try:
        child.expect(r"Done\?")
        running = verify()
        assert running.returncode == 0, running.stdout
        assert "run still in progress: 1 line so far" in running.stdout
        child.kill(signal.SIGKILL)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    killed = verify()
    assert killed.returncode == 1
    assert "record cut short: no run-end after line 1 (the run was killed, or lines were removed)" in killed.stdout
