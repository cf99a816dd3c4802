"""What sits in the runs directory is read bounded, and only if it is a regular file: a
FIFO or a symlink to /dev/zero named *.jsonl cannot hang `runbook runs`, `verify` or
`report`, and a 1 GB record (sparse: no disk used) lists at once and is refused by
`report` in one line, the process staying far under 500 MB."""

from __future__ import annotations

import json
import os

import pytest

from tests.bounds_fixtures import GB, MB, run_measured

START = {"event": "run-start", "ts": "2026-12-07T10:00:00+00:00", "runbook": "high-error-rate", "by": "ana@h"}
END = {"event": "run-end", "ts": "2026-12-07T10:05:00+00:00", "exit_code": 0, "reason": "resolved: all good"}


@pytest.fixture
def runs_dir(isolated_home):
    directory = isolated_home.state / "ditsops" / "runs"
    directory.mkdir(parents=True, mode=0o700)
    return directory


def one_line(done) -> str:
    assert "Traceback" not in done.stdout + done.stderr and "internal error" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def huge_record(path, size: int = GB) -> None:
    """A record of `size` bytes: its start line, a hole of zeros, its end line (sparse)."""
    end = ("\n" + json.dumps(END) + "\n").encode()
    with open(path, "wb") as handle:
        handle.write((json.dumps(START) + "\n").encode())
        handle.seek(size - len(end))
        handle.write(end)


def test_a_fifo_named_like_a_record_hangs_nothing(runs_dir):
    os.mkfifo(runs_dir / "20261207-100000-evil.jsonl")
    listed = run_measured("runbook", "runs", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "20261207-100000-evil" not in listed.stdout  # not a record: the index lists regular files only
    for command in ("verify", "report"):
        done = run_measured("runbook", command, "20261207-100000-evil", timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "cannot read the run record: not a regular file" in one_line(done)


def test_a_symlink_to_dev_zero_named_like_a_record_hangs_nothing(runs_dir):
    (runs_dir / "20261207-100000-zero.jsonl").symlink_to("/dev/zero")
    listed = run_measured("runbook", "runs", timeout=60)
    assert listed.returncode == 0, listed.stderr
    for command in ("verify", "report"):
        done = run_measured("runbook", command, "20261207-100000-zero", timeout=60)
        assert done.returncode == 2
        assert "not a regular file" in one_line(done)
        assert done.peak_rss < 500 * MB


def test_a_1_gb_record_lists_at_once_and_is_refused_whole(runs_dir):
    huge_record(runs_dir / "20261207-100000-huge.jsonl")
    listed = run_measured("runbook", "runs", "-o", "json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert (run["runbook"], run["user"], run["exit_code"], run["verdict"]) == (
        "high-error-rate",
        "ana@h",
        0,
        "resolved: all good",
    )
    assert listed.peak_rss < 500 * MB, f"{listed.peak_rss // MB} MB"
    for command in ("report", "verify"):
        done = run_measured("runbook", command, "20261207-100000-huge", timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "cannot read the run record: larger than 64.0 MiB (1024.0 MiB); refusing to read it" in one_line(done)
        assert done.peak_rss < 500 * MB, f"{command}: {done.peak_rss // MB} MB"


def test_a_dangling_symlink_named_like_a_record_is_listed_not_fatal(runs_dir):
    (runs_dir / "20261207-100000-gone.jsonl").symlink_to(runs_dir / "nowhere")
    listed = run_measured("runbook", "runs", timeout=60)
    assert listed.returncode == 0, listed.stderr


def test_a_record_of_millions_of_tiny_lines_is_refused_before_parsing(runs_dir):
    """Under the size limit, but 20 million `{}` lines would be over a gigabyte of dicts."""
    path = runs_dir / "20261207-100000-dense.jsonl"
    with open(path, "wb") as handle:
        handle.write((json.dumps(START) + "\n").encode())
        block = b"{}\n" * (MB // 3)
        for _ in range(60):
            handle.write(block)
    for command in ("report", "verify"):
        done = run_measured("runbook", command, "20261207-100000-dense", timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "it would take more than 256 MB to read" in one_line(done)
        assert done.peak_rss < 500 * MB, f"{command}: {done.peak_rss // MB} MB"
    listed = run_measured("runbook", "runs", timeout=60)
    assert listed.returncode == 0 and listed.peak_rss < 500 * MB
