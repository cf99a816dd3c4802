"""Run records are evidence: unique exclusive files (0600 in a 0700 directory), hash-chained
lines that `runbook verify` checks, and reports that survive a run killed mid-write.

Each tampering is written as the tampering: a byte changed, a line removed, a fake line
inserted, two lines swapped, a last line cut in half.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ditsops.core import record as record_module
from ditsops.core.record import RunRecord, genesis_hash, line_hash, read_record
from ditsops.render.report import markdown_report
from tests.cli import run_cli

TINY = """
    name: tiny
    title: Tiny practice
    steps:
      - id: look
        title: Look at the logs
        note: Read the server logs for errors.
      - id: graphs
        title: Look at the graphs
        note: Open the error-rate dashboard.
      - id: ask
        title: Ask the team
        note: Ask in the incident channel who deployed last.
"""


def runs_dir(home) -> Path:
    return home.state / "ditsops" / "runs"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def cli_record(isolated_home, tmp_path) -> Path:
    """A real record: the tiny runbook run by the real CLI without a terminal (5 lines)."""
    book = tmp_path / "tiny.yaml"
    book.write_text(textwrap.dedent(TINY))
    done = run_cli("runbook", str(book), "--non-interactive")
    assert done.returncode == 0, done.stdout + done.stderr
    records = list(runs_dir(isolated_home).glob("*.jsonl"))
    assert len(records) == 1, records
    return records[0]


def decision_record(directory: Path) -> Path:
    """A record with a decision in it, written in-process as the engine writes one."""
    record = RunRecord.create("practice", frozenset({"hunter2"}), directory)
    record.write("run-start", runbook="practice", title="Practice", by="ana@laptop", options={})
    record.write("step", step="count", status="failing", summary="3 idle in transaction")
    record.write("preview", step="kill", summary="terminate 3 backends", command="ditsops db terminate ...")
    record.write("decision", step="kill", approved=True, how="answered y", by="ana@laptop")
    record.write("step", step="kill", status="applied", summary="terminated 3 of 3 previewed backends")
    record.write("step", step="recount", status="ok", summary="recovered: 0")
    record.write("run-end", exit_code=0, reason="resolved", password="hunter2")
    return record.path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def verify(path: Path, *extra: str):
    return run_cli("runbook", "verify", str(path), *extra)


# --- unique, exclusive, private files -------------------------------------------------


class _FrozenClock(datetime):
    """Every run starts in the same UTC second."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 11, 28, 3, 52, 8, tzinfo=UTC)


def test_concurrent_creates_of_one_runbook_in_one_second_get_distinct_files(tmp_path, monkeypatch):
    monkeypatch.setattr(record_module, "datetime", _FrozenClock)
    barrier = threading.Barrier(32)
    created: list[RunRecord] = []

    def start() -> None:
        barrier.wait()
        created.append(RunRecord.create("high-error-rate", frozenset(), tmp_path / "runs"))

    threads = [threading.Thread(target=start) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paths = {r.path for r in created}
    assert len(paths) == 32
    assert set((tmp_path / "runs").glob("*.jsonl")) == paths
    for run in created:
        assert run.run_id.startswith("20261128T035208Z-high-error-rate-")
        assert len(run.run_id.rsplit("-", 1)[1]) == 8  # 8 hex characters of randomness
        assert mode(run.path) == 0o600


def test_a_taken_id_is_never_reused_a_new_suffix_is_drawn(tmp_path, monkeypatch):
    monkeypatch.setattr(record_module, "datetime", _FrozenClock)
    suffixes = iter(["deadbeef", "deadbeef", "deadbeef", "cafef00d"])
    monkeypatch.setattr(record_module.random, "token_hex", lambda _n: next(suffixes))
    first = RunRecord.create("practice", frozenset(), tmp_path)
    first.write("run-start", runbook="practice")
    before = first.path.read_bytes()
    second = RunRecord.create("practice", frozenset(), tmp_path)
    assert first.run_id.endswith("-deadbeef") and second.run_id.endswith("-cafef00d")
    assert first.path.read_bytes() == before  # the other run's record is untouched


def test_concurrent_processes_get_distinct_records(isolated_home, tmp_path):
    book = tmp_path / "tiny.yaml"
    book.write_text(textwrap.dedent(TINY))
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(run_cli("runbook", str(book), "--non-interactive")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    records = list(runs_dir(isolated_home).glob("*.jsonl"))
    assert len(records) == 4
    for path in records:
        assert verify(path).returncode == 0


def test_record_is_0600_and_runs_directory_0700_even_under_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        run = RunRecord.create("practice", frozenset(), tmp_path / "state" / "ditsops" / "runs")
    finally:
        os.umask(old)
    assert mode(run.path) == 0o600
    assert mode(tmp_path / "state" / "ditsops" / "runs") == 0o700
    assert mode(tmp_path / "state" / "ditsops") == 0o700  # created by us: private too


def test_a_loose_existing_runs_directory_is_tightened_and_a_strict_umask_still_gives_0600(tmp_path):
    loose = tmp_path / "runs"
    loose.mkdir()
    loose.chmod(0o777)
    old = os.umask(0o277)
    try:
        run = RunRecord.create("practice", frozenset(), loose)
    finally:
        os.umask(old)
    assert mode(loose) == 0o700
    assert mode(run.path) == 0o600
    run.write("run-start")  # still writable by its owner


def test_the_cli_writes_private_records(cli_record, isolated_home):
    assert mode(cli_record) == 0o600
    assert mode(runs_dir(isolated_home)) == 0o700


def test_a_runbook_name_cannot_steer_the_record_out_of_its_directory(tmp_path):
    run = RunRecord.create("../../etc/evil name", frozenset(), tmp_path)
    assert run.path.parent == tmp_path
    assert "/" not in run.run_id and " " not in run.run_id


# --- the chain ------------------------------------------------------------------------


def test_every_line_carries_the_hash_of_the_one_before(tmp_path):
    path = decision_record(tmp_path)
    raw = [line.rstrip(b"\n") for line in lines_of(path)]
    entries = [json.loads(line) for line in raw]
    assert entries[0]["prev"] == genesis_hash(path.stem)
    for before, entry in zip(raw, entries[1:], strict=False):
        assert entry["prev"] == line_hash(before)
    assert "hunter2" not in path.read_text()  # secrets are still scrubbed
    assert path.read_bytes().endswith(b"\n")


def test_lines_written_from_several_threads_still_chain(tmp_path):
    run = RunRecord.create("practice", frozenset(), tmp_path)
    threads = [
        threading.Thread(target=lambda n=n: [run.write("step", step=f"s{n}-{i}") for i in range(20)]) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check = read_record(run.path).check
    assert check.status == "intact" and check.lines == 160


def test_verify_accepts_an_intact_record(cli_record):
    done = verify(cli_record)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("record intact: 5 lines, chain verified\n")


def test_verify_defaults_to_the_last_run_and_takes_an_id_prefix(cli_record):
    assert run_cli("runbook", "verify").stdout.startswith("record intact: 5 lines")
    done = run_cli("runbook", "verify", cli_record.stem[:-3])
    assert done.returncode == 0, done.stdout + done.stderr


def test_verify_as_json(cli_record):
    done = verify(cli_record, "--output", "json")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["status"] == "intact" and data["intact"] is True and data["lines"] == 5
    assert data["run"] == cli_record.stem
    assert data["head"] == line_hash(lines_of(cli_record)[-1].rstrip(b"\n"))


def test_verify_detects_a_changed_byte(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    assert b'"approved": true' in lines[3]
    lines[3] = lines[3].replace(b'"approved": true', b'"approved": false')  # approved becomes declined
    lines[3] = lines[3].replace(b"ana@laptop", b"bob@laptop")  # the approver changed by hand
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert done.stdout.startswith("record NOT intact: line 5: does not follow line 4 (changed, inserted or removed)")


def test_verify_detects_a_single_flipped_byte(cli_record, tmp_path):
    data = bytearray(cli_record.read_bytes())
    at = data.index(b"pending")
    data[at] = ord("P")
    cli_record.write_bytes(bytes(data))
    done = verify(cli_record)
    assert done.returncode == 1
    assert "line 3: does not follow line 2 (changed, inserted or removed)" in done.stdout


def test_verify_detects_a_removed_line(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    del lines[3]  # the decision is gone
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert "line 4: does not follow line 3 (changed, inserted or removed)" in done.stdout


def test_verify_detects_an_inserted_fake_decline(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    fake = {
        "ts": "2026-11-28T03:52:09.000+00:00",
        "event": "decision",
        "step": "kill",
        "approved": False,
        "how": "answered n",
        "by": "ana@laptop",
        "prev": line_hash(lines[2].rstrip(b"\n")),  # the forger even chains it to the line before
    }
    lines.insert(3, (json.dumps(fake) + "\n").encode())
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert "line 5: does not follow line 4 (changed, inserted or removed)" in done.stdout


def test_verify_detects_a_line_without_prev(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    lines.insert(2, b'{"ts": "2026-11-28T03:52:09.000+00:00", "event": "step", "step": "x", "status": "ok"}\n')
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert "line 3: has no `prev`" in done.stdout


def test_verify_detects_a_reordered_pair(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    lines[2], lines[3] = lines[3], lines[2]  # the preview now seems to follow the decision
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert "line 3: does not follow line 2 (changed, inserted or removed)" in done.stdout


def test_verify_detects_a_line_that_is_not_json(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    lines.insert(2, b"approved by the manager, honest\n")
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert "line 3: not a JSON record line" in done.stdout


def test_lines_cannot_move_between_records(tmp_path):
    one = decision_record(tmp_path / "one")
    two = decision_record(tmp_path / "two")
    original = lines_of(two)
    rewrite(two, original[:1] + lines_of(one)[1:2] + original[2:])  # same position, another run's line
    assert "line 2: does not follow line 1" in verify(two).stdout
    rewrite(two, lines_of(one)[:1] + original[1:])  # another run's first line
    assert "line 2: does not follow line 1" in verify(two).stdout


def test_a_renamed_copy_still_verifies(cli_record, tmp_path):
    copy = tmp_path / "incident-4711-timeline.jsonl"
    shutil.copy(cli_record, copy)
    done = verify(copy)
    assert done.returncode == 0, done.stdout


# --- crash tolerance and the report ---------------------------------------------------


def test_a_cut_last_line_is_reported_as_such(cli_record):
    data = cli_record.read_bytes()
    cli_record.write_bytes(data[: len(data) - 40])  # killed in the middle of writing run-end
    done = verify(cli_record)
    assert done.returncode == 1
    assert done.stdout.startswith("ends in a cut line at line 5 (the run was killed while writing)")
    data = json.loads(verify(cli_record, "--output", "json").stdout)
    assert data["status"] == "cut" and data["cut_line"] == 5 and data["problem"] is None and data["lines"] == 4


def test_report_of_a_cut_record_shows_everything_before_the_cut(cli_record):
    data = cli_record.read_bytes()
    cli_record.write_bytes(data[: len(data) - 40])
    done = run_cli("runbook", "report", "--markdown", cli_record.stem)
    assert done.returncode == 0, done.stderr
    assert "- **Record:** chain intact (4 lines); the record ends in a cut line at line 5: the run was killed" in (
        done.stdout
    )
    assert "- **Ended:** the record ends in a cut line at line 5: the run was killed" in done.stdout
    for step in ("look", "graphs", "ask"):
        assert f"| {step} | **pending**" in done.stdout
    assert "run ended" not in done.stdout


def test_a_complete_json_line_without_its_newline_is_still_cut(cli_record):
    cli_record.write_bytes(cli_record.read_bytes()[:-1])
    done = verify(cli_record)
    assert done.returncode == 1 and "ends in a cut line at line 5" in done.stdout


def test_zeroes_after_a_crash_are_a_cut_line(cli_record):
    with cli_record.open("ab") as handle:
        handle.write(b"\0" * 64 + b"\n")  # a filesystem's view after a power cut
    done = verify(cli_record)
    assert done.returncode == 1 and "ends in a cut line at line 6" in done.stdout
    assert run_cli("runbook", "report").returncode == 0


def test_report_states_an_intact_chain(cli_record):
    done = run_cli("runbook", "report", "--markdown")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Tiny practice — run ")
    assert "\n- **Record:** chain intact (5 lines)\n" in done.stdout


def test_report_states_a_broken_chain_and_still_renders(cli_record):
    data = cli_record.read_bytes().replace(b"Read the server logs", b"Skipped the server logs")
    cli_record.write_bytes(data)
    done = run_cli("runbook", "report", "--markdown")
    assert done.returncode == 0, done.stderr
    assert "- **Record:** NOT intact: line 3: does not follow line 2 (changed, inserted or removed)" in done.stdout
    assert "| ask | **pending**" in done.stdout


def test_a_record_from_an_older_ditsops_reports_without_a_chain(cli_record):
    lines = []
    for line in lines_of(cli_record):
        entry = json.loads(line)
        entry.pop("prev"), entry.pop("run", None)
        lines.append((json.dumps(entry) + "\n").encode())
    rewrite(cli_record, lines)
    done = run_cli("runbook", "report", "--markdown")
    assert done.returncode == 0, done.stderr
    assert "- **Record:** written without a hash chain (older ditsops)" in done.stdout
    assert "| look | **pending**" in done.stdout
    checked = verify(cli_record)
    assert checked.returncode == 1
    assert checked.stdout.startswith("record written without a hash chain (older ditsops)")


def test_an_empty_record_does_not_verify(tmp_path):
    run = RunRecord.create("practice", frozenset(), tmp_path)
    done = verify(run.path)
    assert done.returncode == 1 and "record is empty" in done.stdout
    assert "- **Record:** empty" in markdown_report([], run.run_id, read_record(run.path).check)


def test_report_survives_hand_edited_lines_missing_fields(tmp_path):
    path = decision_record(tmp_path)
    lines = lines_of(path)
    lines[4] = b'{"event": "step"}\n'
    rewrite(path, lines)
    record = read_record(path)
    text = markdown_report(record.events, path.stem, record.check)
    assert "NOT intact: line 5" in text
