"""The hand-off of issue 17, end to end on the worker's shared sandbox and its record store:
engineer A walks `runbook --alert HighErrorRate` on the bad deploy, approves the rollback
and presses Ctrl-C while ditsops waits; engineer B, another machine (its own XDG homes, its
own name), sees the incident with A's applied rollback at once in `incident list`, resumes
A's run without rolling back again, and ends it resolved; `incident show` has both
engineers' events in order, and `incident close` succeeds once the alert has stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from ditsops.sandbox.kubesource import KubeHTTP
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.sandboxfixtures import NAMESPACE, WATCH, Sandbox, fault, firing_within, resolved_within
from tests.test_resume_sandbox import engineer_b, interrupted_after_the_rollback, revision


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_takes_the_rollback_b_takes_over_from_another_machine_and_closes(sandbox: Sandbox, tmp_path: Path):
    runs = sandbox.home / "state" / "ditsops" / "runs"
    before = set(runs.glob("*.jsonl"))
    ana = {**os.environ, "COLUMNS": "80", "DITSOPS_USER": "ana"}
    ben = {**engineer_b(sandbox, tmp_path / "ben", ana), "DITSOPS_USER": "ben"}
    fault("bad-deploy")
    incident = None
    try:
        firing_within(sandbox.prometheus, {"HighErrorRate"}, 120)
        walk = ["runbook", "--alert", "HighErrorRate", "--yes"]
        path, events, _ = interrupted_after_the_rollback(walk, ana, runs, before)
        rolled_back = revision(sandbox)
        run_id = path.stem
        incident = events[0]["incident"]
        assert incident, "a run for a firing alert joins (or opens) its incident"

        # B, at once (no waiting: A's lines reached the store before A exited).
        listed = {i["id"]: i for i in as_json(run_cli("incident", "list", "-o", "json", env=ben))}
        assert incident in listed, sorted(listed)
        mine = listed[incident]
        assert mine["alerts"][0]["alert"] == "HighErrorRate" and mine["state"] == "open"
        assert any(c["who"] == "ana" and "undo:" in c["text"] for c in mine["applied"]), mine["applied"]

        # B resumes A's run once the rollout A interrupted has finished (B's log step reads the
        # pods; one going away under it is an error of that step, see the session note).
        KubeHTTP(sandbox.url("kubeapi")).wait_for_rollout(NAMESPACE, "dits-server")
        # B resumes A's run: no second rollback, the verify waits, resolved.
        done = run_cli("runbook", "resume", run_id, "--yes", "--non-interactive", env=ben, timeout=400)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert revision(sandbox) == rolled_back
        assert "resolved: verified by" in done.stdout

        shown = as_json(run_cli("incident", "show", incident, "-o", "json", env=ben))
        people = [e["who"] for e in shown["timeline"] if e["run"]]
        assert "ana" in people and "ben" in people and people.index("ana") < people.index("ben"), people
        times = [e["time"] for e in shown["timeline"]]
        assert times == sorted(times)

        resolved_within(sandbox.prometheus, {"HighErrorRate"}, 120)
        closed = wait_until(
            lambda: run_cli("incident", "close", incident, "--note", "rolled back; verified", env=ben),
            60,
            "incident close accepted once nothing fires",
            until=lambda done: done.returncode == 0,
            **WATCH,
        )
        assert closed.returncode == 0, closed.stdout + closed.stderr
        final = as_json(run_cli("--profile", "sandbox", "incident", "show", incident, "-o", "json", env=ana))
        assert final["state"] == "closed" and final["timeline"][-1]["who"] == "ben"
        incident = None
    finally:
        fault("bad-deploy", "--clear")
        if incident:  # the shared store: leave no incident of this test open for the next
            run_cli("incident", "close", incident, "--force", env=ben)
