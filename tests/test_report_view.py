"""`runbook report` as an engineer reads it: on a terminal or piped into `cat` at 80
columns, no Markdown syntax, prose wrapped at spaces, every command whole on one line (the
undo pasted from the report runs), the undo stated as a command with the state before in
words, never the record's dict; what was left undone listed apart. `--markdown` has the
same facts for the postmortem document.

Records come from real runs (`k8s set-env` then `k8s undo` against the in-memory
Kubernetes API) or are written through the record API as the engine writes them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ditsops.core.record import RunRecord
from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli

NARROW = {"COLUMNS": "80"}
IMAGE = "registry.dits.dev/dits-server:1.4.2"  # what seed_dits deploys
UNDO = "ditsops --namespace dits k8s undo dits-server --to-revision 2"
STATE = f"state before: revision 2, image {IMAGE}, 3 replicas"


def joined(text: str) -> str:
    return " ".join(text.split())


def revision(server: KubeAPIServer) -> str:
    return server.get("deployments", "dits", "dits-server")["metadata"]["annotations"][
        "deployment.kubernetes.io/revision"
    ]


@pytest.fixture
def rolled_back(seeded: KubeAPIServer, tmp_path: Path, isolated_home: Any) -> dict[str, str]:
    """A change (revision 2) rolled back with `k8s undo --yes`: the last run's record holds
    the rollback, its undo and the state it replaced."""
    env = {**NARROW, "KUBECONFIG": str(seeded.write_kubeconfig(tmp_path / "kubeconfig"))}
    for args in (("set-env", "dits-server", "FEATURE_X=on"), ("undo", "dits-server")):
        done = run_cli("k8s", *args, "--yes", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        seeded.wait_for_rollout("dits", "dits-server")
    assert revision(seeded) == "3"
    return env


def test_the_report_reads_at_80_columns_piped_without_markdown(rolled_back: dict[str, str]) -> None:
    done = run_cli("runbook", "report", env=rolled_back)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Roll back dits-server — run ")
    for line in lines:
        assert not line.startswith(("#", "|", "- **", "```")), line
    assert "**" not in done.stdout and "|---" not in done.stdout and "`" not in done.stdout
    # prose wraps under its column; only a command or the verdict, kept whole, runs past 80
    for line in lines:
        if len(line) > 80:
            assert line.strip().startswith(("undo: ", "kubectl ", "Ended ")) or "run ended" in line, line
    assert any(line.strip() == f"undo: {UNDO}" for line in lines), done.stdout
    assert "  Runbook      k8s-rollout-undo (a direct command: no runbook file)" in lines
    assert "  Mode         non-interactive, --yes" in lines


def test_the_undo_is_a_command_and_the_state_before_in_words_never_a_dict(rolled_back: dict[str, str]) -> None:
    for form in ((), ("--markdown",)):
        done = run_cli("runbook", "report", *form, env=rolled_back)
        assert done.returncode == 0, done.stderr
        assert STATE in joined(done.stdout)
        assert "{'" not in done.stdout and "'name'" not in done.stdout and "resourceVersion" not in done.stdout
    markdown = run_cli("runbook", "report", "--markdown", env=rolled_back).stdout
    assert f"- `k8s-rollout-undo`: `{UNDO}` — {STATE}" in markdown.splitlines()
    assert "## How to undo what was applied" in markdown


def test_the_undo_pasted_from_the_report_runs_as_printed(rolled_back: dict[str, str], seeded: KubeAPIServer) -> None:
    shown = run_cli("runbook", "report", env=rolled_back).stdout
    section = shown.split("How to undo what was applied", 1)[1]
    (pasted,) = [line.strip().removeprefix("undo: ") for line in section.splitlines() if line.startswith("    undo: ")]
    argv = shlex.split(pasted)
    assert argv[0] == "ditsops"
    done = run_cli(*argv[1:], "--yes", env=rolled_back)
    assert done.returncode == 0, done.stdout + done.stderr
    seeded.wait_for_rollout("dits", "dits-server")
    assert revision(seeded) == "4"  # revision 2's template, made current again, as kubectl numbers it


def walk_record(directory: Path) -> str:
    """A walk as the engine records it: a failing check, a declined rollback, a skipped
    restart, a check that recovered on its re-check, and the verdict."""
    record = RunRecord.create("high-error-rate", frozenset(), directory)
    kubeconfig = "/home/oncall/.config/a-rather-long-directory-name/clusters/production-eu-west/kubeconfig"
    record.write("run-start", runbook="high-error-rate", title="High error rate", source="/r/h.yaml", by="ana@l")
    record.write("step", step="error-rate", status="failing", summary="14.5% — above fail threshold 5.0%")
    record.write("step", step="db-pool", status="failing", summary="91.0% — above fail threshold 90.0%")
    record.write(
        "preview",
        step="rollback",
        summary=f"roll back dits-server: image {IMAGE} -> registry.dits.dev/dits-server:1.4.1",
        command=f"kubectl --kubeconfig {kubeconfig} --context prod rollout undo deployment/dits-server -n dits",
    )
    record.write("decision", step="rollback", approved=False, how="declined (answered n)", by="ana@l")
    record.write("step", step="rollback", status="declined", summary="declined (answered n)")
    record.write(
        "step",
        step="restart",
        status="skipped",
        summary="runs when recent-rollouts is above 1h00m; it is 1m50s; "
        "see ditsops --profile prod k8s history dits-server",
    )
    record.write("recheck", step="db-pool", status="ok", summary="40.0% — within thresholds")
    record.write("recheck", step="error-rate", status="failing", summary="13.4% — above fail threshold 5.0%")
    record.write("run-end", exit_code=3, reason="not resolved: fix declined: rollback; error-rate failing at 13.4%")
    record.close()
    return record.run_id


def test_what_was_left_undone_is_listed_apart_in_both_forms(isolated_home: Any) -> None:
    run_id = walk_record(isolated_home.state / "ditsops" / "runs")
    shown = run_cli("runbook", "report", run_id, env=NARROW).stdout
    undone = shown.split("Left undone or still failing\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[:2] for line in undone if not line.startswith("     ")] == [
        ["error-rate", "failing"],
        ["rollback", "declined"],
        ["restart", "skipped"],
    ]  # db-pool recovered on its re-check: not left undone
    assert "13.4% — above fail threshold 5.0%" in undone[0]
    markdown = run_cli("runbook", "report", run_id, "--markdown").stdout.splitlines()
    at = markdown.index("## Left undone or still failing")
    assert markdown[at + 2 : at + 5] == [
        "- `error-rate`: **failing** — 13.4% — above fail threshold 5.0%",
        "- `rollback`: **declined** — declined (answered n)",
        "- `restart`: **skipped** — runs when recent-rollouts is above 1h00m; it is 1m50s; "
        "see ditsops --profile prod k8s history dits-server",
    ]


def test_long_tokens_and_commands_inside_prose_are_never_cut(isolated_home: Any) -> None:
    run_id = walk_record(isolated_home.state / "ditsops" / "runs")
    done = run_cli("runbook", "report", run_id, env=NARROW)
    lines = done.stdout.splitlines()
    # the image names and the kubectl line, each whole on one line
    assert any(f"image {IMAGE} ->" in line or line.strip().startswith(IMAGE) for line in lines), done.stdout
    assert any("registry.dits.dev/dits-server:1.4.1" in line for line in lines)
    assert any(line.strip().startswith("kubectl --kubeconfig /home/oncall/") and "-n dits" in line for line in lines)
    # a command inside a skip reason wraps as one piece: it pastes from one line
    assert sum("ditsops --profile prod k8s history dits-server" in line for line in lines) == 2  # timeline, undone
    for line in lines:
        if len(line) > 80:
            assert "ditsops --profile" in line or line.strip().startswith(("kubectl ", "Ended")) or "run ended" in line


def test_a_forged_time_cannot_clear_the_screen_or_forge_a_line(isolated_home: Any) -> None:
    # found by feeding the report random records: a `ts` that is not a time was shown raw
    record = RunRecord.create("practice", frozenset(), isolated_home.state / "ditsops" / "runs")
    record.write("run-start", runbook="practice", title="Practice", source="/r/p.yaml", by="ana@l")
    record.write("step", ts="\x1b[2J\nFORGED TIME LINE", step="look", status="ok", summary="fine")
    record.close()
    for form in ((), ("--markdown",)):
        done = run_cli("runbook", "report", *form, env=NARROW)
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\\x1b[2J\\nFORGED TIME LINE" in done.stdout
        assert not any(line.lstrip(" |").startswith("FORGED") for line in done.stdout.splitlines()), done.stdout


def test_a_record_given_by_a_hostile_file_name_shows_the_name_escaped(tmp_path: Path) -> None:
    source = RunRecord.create("practice", frozenset(), tmp_path)
    source.write("run-start", runbook="practice", title="Practice", source="/r/p.yaml", by="ana@l")
    source.close()
    hostile = tmp_path / "evil\x1b[2J\nFORGED NAME LINE.jsonl"
    hostile.write_bytes(source.path.read_bytes())
    for form in ((), ("--markdown",)):
        done = run_cli("runbook", "report", *form, str(hostile), env=NARROW)
        assert done.returncode == 0, done.stderr
        first = done.stdout.splitlines()[0]
        assert "\x1b" not in done.stdout and first.endswith("— run evil\\x1b[2J\\nFORGED NAME LINE"), first


def test_a_reader_that_has_seen_enough_ends_the_report_with_exit_0(isolated_home: Any) -> None:
    # `ditsops runbook report | head`: the pipe is closed before the report is written
    walk_record(isolated_home.state / "ditsops" / "runs")
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ditsops", "runbook", "report"],
            stdout=write,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_an_undo_without_a_recorded_state_claims_none(isolated_home: Any) -> None:
    # a silence added: its undo expires it, and no state before was recorded (nor invented)
    record = RunRecord.create("practice", frozenset(), isolated_home.state / "ditsops" / "runs")
    record.write("run-start", runbook="practice", title="Practice", source="/r/p.yaml", by="ana@l")
    undo = "ditsops --profile prod silence expire 3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
    result = {"silence_id": "3f2a9c1e", "undo": undo}
    record.write("step", step="mute", status="applied", summary=f"silenced; undo: {undo}", result=result)
    record.close()
    shown = run_cli("runbook", "report", env=NARROW).stdout
    section = shown.split("How to undo what was applied\n", 1)[1].splitlines()
    assert section[:2] == ["  mute:", f"    undo: {undo}"]
    assert "state before" not in shown
    markdown = run_cli("runbook", "report", "--markdown").stdout
    assert f"- `mute`: `{undo}`" in markdown.splitlines()
