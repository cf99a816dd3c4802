"""`runbook resume` refusing what it cannot resume from: one line on stderr, exit 2, no
traceback, no run started. Records written by hand into an isolated home (no service)."""

from __future__ import annotations

from ditsops.core.record import RunRecord
from tests.cli import run_cli


def record_of(isolated_home, runbook: str) -> RunRecord:
    record = RunRecord.create("practice", frozenset(), isolated_home.state / "ditsops" / "runs")
    record.write("run-start", runbook=runbook, params={}, target={})
    record.write("applied", step="rollback", summary="rolled back", undo="ditsops k8s undo x")
    record.write("run-end", exit_code=130, reason="interrupted")
    return record


def runs(isolated_home) -> list[str]:
    return sorted(p.name for p in (isolated_home.state / "ditsops" / "runs").glob("*.jsonl"))


def test_resume_of_an_unknown_run_is_a_usage_error(isolated_home):
    done = run_cli("runbook", "resume", "20991231T")
    assert done.returncode == 2 and done.stderr.startswith("ditsops: '20991231T' matches no run")
    assert "Traceback" not in done.stderr


def test_a_record_naming_a_path_as_its_runbook_is_not_loaded(isolated_home, tmp_path):
    hostile = tmp_path / "evil.yaml"
    hostile.write_text("name: evil\ntitle: Evil\nsteps: []\n")
    record = record_of(isolated_home, str(hostile))
    before = runs(isolated_home)
    done = run_cli("runbook", "resume", record.run_id, "--yes", "--non-interactive")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "names no runbook that can be resumed by name" in done.stderr and "Traceback" not in done.stderr
    assert runs(isolated_home) == before  # no run started


def test_a_record_that_does_not_verify_is_not_resumed_from(isolated_home):
    record = record_of(isolated_home, "high-error-rate")
    text = record.path.read_text().replace("rolled back", "rolled BACK")  # an edited line
    record.path.write_text(text)
    done = run_cli("runbook", "resume", record.run_id[:-2], "--non-interactive")
    assert done.returncode == 2 and "its record does not verify" in done.stderr, done.stderr
