"""`runbook runs` through the index kept beside the records: every change to a record is
seen at the next listing (added, removed, edited, replaced by a forged file), a foreign or
corrupt index is never believed, and the listing fits 80 columns piped, one line per run."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ditsops.core import runindex
from ditsops.core.record import genesis_hash, line_hash
from ditsops.core.runs import RunFilter, run_page
from tests.cli import run_cli

NARROW = {"COLUMNS": "80"}
START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def write_record(
    directory: Path,
    number: int,
    *,
    runbook: str = "high-error-rate",
    by: str = "dana@bastion-01",
    exit_code: int | None = 0,
    reason: str = "resolved: error rate back under 1%",
    direct: bool = False,
    incident: str | None = None,
) -> str:
    """A record as ditsops writes it: chained lines, run-start first, run-end last."""
    started = START + timedelta(minutes=number)
    run_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{runbook}-{number:08x}"
    entries: list[dict[str, Any]] = [
        {
            "ts": started.isoformat(),
            "event": "run-start",
            "run": run_id,
            "runbook": runbook,
            "source": "None" if direct else f"/runbooks/{runbook}.yaml",
            "target": {"profile": "prod"},
            "by": by,
            "options": {"dry_run": False},
            **({"incident": incident} if incident else {}),
        }
    ]
    if exit_code is not None:
        entries.append({"ts": started.isoformat(), "event": "run-end", "exit_code": exit_code, "reason": reason})
    lines, prev = [], genesis_hash(run_id)
    for entry in entries:
        entry["prev"] = prev
        text = json.dumps(entry)
        lines.append(text)
        prev = line_hash(text.encode())
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    (directory / f"{run_id}.jsonl").write_text("\n".join(lines) + "\n")
    return run_id


# A listing without a filter chooses by name and reads what it shows (no index); one with
# a filter goes through the index. Every change to a record is checked through both.
WAYS: dict[str, dict[str, Any]] = {"latest": {}, "filtered": {"since": START - timedelta(days=1)}}
INDEXED = WAYS["filtered"]


@pytest.fixture(params=list(WAYS))
def way(request: pytest.FixtureRequest) -> dict[str, Any]:
    return WAYS[request.param]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    directory = tmp_path / "runs"
    for number in range(5):
        write_record(directory, number)
    run_page(directory, RunFilter(**INDEXED))  # the index now knows all five
    assert (directory / runindex.INDEX_FILE).exists()
    return directory


def listed(directory: Path, **where: Any) -> list[tuple[str, str | None, str]]:
    page = run_page(directory, RunFilter(**{"limit": None, **where}))
    return [(run.run_id, run.exit_code and str(run.exit_code), run.verdict) for run in page.runs]


def test_a_record_added_is_listed_at_the_next_listing(runs: Path, way: dict[str, Any]) -> None:
    added = write_record(runs, 9, exit_code=3, reason="not resolved: error rate 12%")
    assert listed(runs, **way)[-1] == (added, "3", "not resolved: error rate 12%")


def test_a_record_removed_is_gone_at_the_next_listing(runs: Path, way: dict[str, Any]) -> None:
    first = listed(runs, **way)[0][0]
    (runs / f"{first}.jsonl").unlink()
    assert first not in [run for run, *_ in listed(runs, **way)] and len(listed(runs, **way)) == 4


def test_a_record_edited_in_place_with_its_size_and_mtime_kept_is_read_again(runs: Path, way: dict[str, Any]) -> None:
    # The editor keeps the length (same digit count) and puts the modification time back:
    # the change time and the index still tell.
    run_id = listed(runs, **way)[2][0]
    path = runs / f"{run_id}.jsonl"
    before = path.stat()
    path.write_text(path.read_text().replace('"exit_code": 0', '"exit_code": 5'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert listed(runs, **way)[2][:2] == (run_id, "5")


def test_a_record_replaced_by_a_forged_file_is_read_from_the_forgery(runs: Path, way: dict[str, Any]) -> None:
    # Another file renamed over the record, its times set to the original's: a new inode.
    run_id = listed(runs, **way)[1][0]
    path = runs / f"{run_id}.jsonl"
    before = path.stat()
    forged = runs / "forged.tmp"
    forged.write_text(path.read_text().replace("dana@bastion-01", "mallory@elsewhere"))
    os.utime(forged, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(forged, path)
    page = run_page(runs, RunFilter(limit=None, **way))
    assert [r.user for r in page.runs if r.run_id == run_id] == ["mallory@elsewhere"]


def test_an_index_copied_from_another_home_is_not_believed(runs: Path, tmp_path: Path) -> None:
    # The other home's index claims this run ended resolved by someone else: rebuilt, not read.
    other = tmp_path / "other"
    write_record(other, 0, by="eve@other")
    run_page(other, RunFilter(**INDEXED))
    (runs / runindex.INDEX_FILE).write_bytes((other / runindex.INDEX_FILE).read_bytes())
    assert {r.user for r in run_page(runs, RunFilter(limit=None, **INDEXED)).runs} == {"dana@bastion-01"}


@pytest.mark.parametrize(
    "content", [b"{", b"[]", b'{"stamp": 1, "runs": {}}', b"\xff\xfe", b"[" * 100_000, b'{"runs": {"x": [1]}}']
)
def test_a_corrupt_index_is_rebuilt_never_an_error(runs: Path, content: bytes) -> None:
    (runs / runindex.INDEX_FILE).write_bytes(content)
    assert len(listed(runs, **INDEXED)) == 5
    assert runindex.load(runs)  # and written again whole


def test_a_forged_index_entry_cannot_hide_a_record_or_change_what_is_shown(runs: Path) -> None:
    # An entry with the right key but another runbook and user: it may misplace the run
    # in a filter (the index selects), but the line shown is read from the record itself.
    document = json.loads((runs / runindex.INDEX_FILE).read_bytes())
    run_id = sorted(document["runs"])[0]
    document["runs"][run_id][5:7] = ["mallory", "other-book"]
    (runs / runindex.INDEX_FILE).write_text(json.dumps(document))
    shown = {r.run_id: r for r in run_page(runs, RunFilter(limit=None, **INDEXED)).runs}
    assert shown[run_id].user == "dana@bastion-01" and shown[run_id].runbook == "high-error-rate"


def test_the_latest_twenty_newest_last_with_limit_and_all(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    ids = [write_record(directory, n) for n in range(25)]
    page = run_page(directory, RunFilter())
    assert [r.run_id for r in page.runs] == ids[-20:] and page.total == 25
    assert [r.run_id for r in run_page(directory, RunFilter(limit=3)).runs] == ids[-3:]


@pytest.fixture
def team_runs(isolated_home: Any) -> list[str]:
    runs = isolated_home.state / "ditsops" / "runs"
    return [
        write_record(runs, 0, by="ana@laptop", exit_code=0),
        write_record(runs, 1, runbook="k8s-undo", by="ben@desk", direct=True, exit_code=5, reason="refused"),
        write_record(runs, 2, by="ana@laptop", exit_code=3, reason="not resolved: " + "x" * 300, incident="inc-00aa11"),
        write_record(runs, 3, runbook="db-connections-exhausted", by="a-very-long-engineer@a-long-host.example.com"),
        write_record(runs, 4, by="ben@desk", exit_code=None),
    ]


def test_runs_fit_80_columns_piped_one_line_per_run_walks_told_from_commands(team_runs: list[str]) -> None:
    done = run_cli("runbook", "runs", env=NARROW)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 + len(team_runs), done.stdout
    assert all(len(line) <= 80 for line in lines), done.stdout
    header, *rows = lines
    assert header.split() == ["when", "(UTC)", "who", "runbook", "verdict", "run"]
    assert re.match(r"11-28 02:01\s+ben@desk\s+cmd k8s-undo\s+refused\s+20261128T020100Z$", rows[1]), rows[1]
    assert re.match(r"11-28 02:00\s+ana@laptop\s+high-error-rate\s+resolved\s+20261128T020000Z$", rows[0])
    assert "not resolved" in rows[2] and "xxx" not in rows[2]  # the word; -o json has the sentence
    assert "no end" in rows[4]
    assert "…" in rows[3]  # the long name is cut, the id never is
    # the id shown is what report takes
    report = run_cli("runbook", "report", rows[1].split()[-1])
    assert report.returncode == 0 and team_runs[1] in report.stdout


def test_runs_filters_narrow_the_listing(team_runs: list[str]) -> None:
    def ids(*args: str, env: dict[str, str] | None = None) -> list[str]:
        done = run_cli("runbook", "runs", "-o", "json", *args, env=env)
        assert done.returncode == 0, done.stderr
        return [run["run"] for run in json.loads(done.stdout)]

    assert ids("--runbook", "high-error-rate") == [team_runs[0], team_runs[2], team_runs[4]]
    assert ids("--mine", env={"DITSOPS_USER": "ben@desk"}) == [team_runs[1], team_runs[4]]
    assert ids("--incident", "inc-00aa11") == [team_runs[2]]
    assert ids("--since", "2026-11-28T02:03:00Z") == team_runs[3:]
    assert ids("--since", "1h") == []  # records from 2026-11-28, long before now
    assert ids("--limit", "2") == team_runs[-2:]
    kinds = [run["kind"] for run in json.loads(run_cli("runbook", "runs", "-o", "json").stdout)]
    assert kinds == ["walk", "command", "walk", "walk", "walk"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--limit", "0"], "--limit '0': give a whole number from 1 to 1,000,000, or --all"),
        (["--limit", "ten"], "--limit 'ten': give a whole number"),
        (["--since", "yesterday"], "--since 'yesterday': give a duration back from now"),
    ],
)
def test_bad_filters_are_one_line_exit_2(isolated_home: Any, args: list[str], message: str) -> None:
    done = run_cli("runbook", "runs", *args)
    assert done.returncode == 2 and done.stderr.startswith(f"ditsops: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_mine_is_the_user_profile_key_and_the_environment_wins(team_runs: list[str], isolated_home: Any) -> None:
    config = isolated_home.config / "ditsops" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('default_profile = "team"\n\n[profiles.team]\nuser = "ana@laptop"\n')
    mine = json.loads(run_cli("runbook", "runs", "--mine", "-o", "json").stdout)
    assert [run["run"] for run in mine] == [team_runs[0], team_runs[2]]
    env = {"DITSOPS_USER": "ben@desk"}
    assert [r["user"] for r in json.loads(run_cli("runbook", "runs", "--mine", "-o", "json", env=env).stdout)] == [
        "ben@desk",
        "ben@desk",
    ]
