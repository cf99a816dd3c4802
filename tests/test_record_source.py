"""A direct command's run has no runbook file: its record says `"source": null` (older
versions wrote the string "None"), and every reader copes: `runbook runs` (local and from
the record store) marks it `cmd`, `report` says it is a direct command, `verify` holds, and
`resume` says in one line that there is nothing to resume. A real `k8s scale --yes`
against the in-memory Kubernetes API writes the record."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli
from tests.store_fixtures import store_db  # noqa: F401 - a fixture
from tests.test_records import TINY
from tests.test_runs_listing import write_record


def runs_dir(home: Any) -> Path:
    return home.state / "ditsops" / "runs"


@pytest.fixture
def scaled(seeded: KubeAPIServer, tmp_path: Path, isolated_home: Any) -> tuple[dict[str, str], Path]:
    env = {"KUBECONFIG": str(seeded.write_kubeconfig(tmp_path / "kubeconfig")), "COLUMNS": "80"}
    done = run_cli("k8s", "scale", "dits-server", "--replicas", "4", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    (record,) = runs_dir(isolated_home).glob("*.jsonl")
    return env, record


def test_a_direct_command_records_a_null_source_never_the_string_none(scaled) -> None:
    _, record = scaled
    start = json.loads(record.read_text().splitlines()[0])
    assert start["event"] == "run-start" and start["runbook"] == "k8s-scale"
    assert "source" in start and start["source"] is None


def test_every_reader_of_the_record_copes_with_no_source(scaled) -> None:
    env, record = scaled
    runs = run_cli("runbook", "runs", env=env)
    assert runs.returncode == 0, runs.stderr
    assert "cmd k8s-scale" in runs.stdout
    (listed,) = json.loads(run_cli("runbook", "runs", "-o", "json", env=env).stdout)
    assert listed["kind"] == "command"

    for form in ((), ("--markdown",)):
        report = run_cli("runbook", "report", *form, env=env)
        assert report.returncode == 0, report.stderr
        assert "k8s-scale" in report.stdout and "(a direct command: no runbook file)" in report.stdout
        assert "None" not in report.stdout

    assert run_cli("runbook", "verify", record.stem, env=env).returncode == 0

    resumed = run_cli("runbook", "resume", record.stem, env=env)
    assert resumed.returncode == 2
    assert resumed.stderr.strip().splitlines() == [
        f"ditsops: run {record.stem} is a direct command (k8s-scale), not a runbook walk: "
        "nothing to resume; run the command again"
    ]


def test_records_written_with_the_string_none_still_read_as_direct_commands(isolated_home: Any) -> None:
    runs = runs_dir(isolated_home)
    old = write_record(runs, 1, runbook="k8s-undo", direct=True)  # "source": "None", as written before
    listed = json.loads(run_cli("runbook", "runs", "-o", "json").stdout)
    assert [run["kind"] for run in listed] == ["command"]
    report = run_cli("runbook", "report", old)
    assert report.returncode == 0 and "(a direct command: no runbook file)" in report.stdout


def test_a_run_start_without_any_source_is_not_taken_for_a_direct_command(isolated_home: Any) -> None:
    runs = runs_dir(isolated_home)
    run_id = write_record(runs, 2)
    path = runs / f"{run_id}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0].pop("source")  # a hand-edited record: the key gone, not null
    # re-chained, so the record still verifies: only the missing key differs
    from ditsops.core.record import genesis_hash, line_hash

    prev, texts = genesis_hash(run_id), []
    for entry in lines:
        entry["prev"] = prev
        texts.append(json.dumps(entry))
        prev = line_hash(texts[-1].encode())
    path.write_text("\n".join(texts) + "\n")
    (listed,) = json.loads(run_cli("runbook", "runs", "-o", "json").stdout)
    assert listed["kind"] == "walk"


def test_the_record_store_lists_a_direct_command_with_a_null_source_as_one(
    seeded: KubeAPIServer,
    tmp_path: Path,
    isolated_home: Any,
    store_db: str,  # noqa: F811
) -> None:
    env = {"KUBECONFIG": str(seeded.write_kubeconfig(tmp_path / "kubeconfig")), "DITSOPS_RECORD_STORE": store_db}
    done = run_cli("k8s", "scale", "dits-server", "--replicas", "4", "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    book = tmp_path / "tiny.yaml"
    book.write_text(textwrap.dedent(TINY))
    walked = run_cli("runbook", str(book), "--non-interactive", env=env)
    assert walked.returncode == 0, walked.stdout + walked.stderr
    records = runs_dir(isolated_home).glob("*.jsonl")
    ids = {json.loads(path.read_text().splitlines()[0])["runbook"]: path.stem for path in records}
    shutil.rmtree(runs_dir(isolated_home))  # what is listed now can only come from the store
    listed = run_cli("runbook", "runs", "-o", "json", env=env)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    kinds = {run["run"]: run["kind"] for run in json.loads(listed.stdout)}
    assert kinds[ids["k8s-scale"]] == "command" and kinds[ids["tiny"]] == "walk"
