"""`runbook resume` end to end on the worker's shared sandbox: engineer A rolls back the
bad deploy and presses Ctrl-C while ditsops waits; engineer B, on another machine (another
state home: no local record, only the shared record store), resumes the run. The rollback
is not made again (the deployment's revision does not move), the verify waits for the
error rate, and the run ends resolved. At 80 columns, piped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from ditsops.core.config import ENVIRONMENT
from ditsops.sandbox.kubesource import KubeHTTP
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.sandboxfixtures import NAMESPACE, WATCH, Sandbox, fault, firing_within, resolved_within
from tests.test_sandbox_bad_deploy import GOOD, error_ratio

REVISION = "deployment.kubernetes.io/revision"


def deployment(sandbox: Sandbox) -> dict[str, Any]:
    return KubeHTTP(sandbox.url("kubeapi")).get_deployment(NAMESPACE, "dits-server")


def revision(sandbox: Sandbox) -> str:
    return str(deployment(sandbox)["metadata"]["annotations"][REVISION])


def image(sandbox: Sandbox) -> str:
    return str(deployment(sandbox)["spec"]["template"]["spec"]["containers"][0]["image"])


def applied_record(runs: Path, before: set[Path]) -> tuple[Path, list[dict[str, Any]]] | None:
    for path in sorted(set(runs.glob("*.jsonl")) - before):
        events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if any(e["event"] == "applied" for e in events):
            return path, events
    return None


def engineer_b(sandbox: Sandbox, state: Path, env: dict[str, str]) -> dict[str, str]:
    """Another engineer's machine: the sandbox's settings as variables, its own XDG homes."""
    b_env = {**env, "XDG_STATE_HOME": str(state), "XDG_CONFIG_HOME": str(state / "config")}
    for key, value in sandbox.state.profile().items():
        if key in ENVIRONMENT and value is not None:
            b_env[ENVIRONMENT[key]] = str(value).lower() if isinstance(value, bool) else str(value)
    return b_env


def store_parent(sandbox: Sandbox, run_id: str) -> str | None:
    with psycopg.connect(str(sandbox.state.profile()["record_store"]), connect_timeout=5) as conn:
        row = conn.execute("SELECT parent FROM ditsops.runs WHERE id = %s", (run_id,)).fetchone()
    return row[0] if row else None


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the child must react to Ctrl-C as a shell's would


def interrupted_after_the_rollback(
    args: list[str], env: dict[str, str], runs: Path, before: set[Path]
) -> tuple[Path, list[dict[str, Any]], tuple[str, str]]:
    """`ditsops --profile sandbox ARGS` until its record says `applied`, then Ctrl-C (exit
    130); the record, its lines, and what the run printed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "ditsops", "--profile", "sandbox", *args],
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,  # noqa: PLW1509 - a plain signal reset, no threads involved
    )
    path, events = wait_until(lambda: applied_record(runs, before), 120, "the rollback applied", interval=0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    return path, events, (out, err)


def test_ctrl_c_after_the_rollback_then_resume_elsewhere_does_not_roll_back_again(sandbox: Sandbox, tmp_path):
    runs = sandbox.home / "state" / "ditsops" / "runs"
    before = set(runs.glob("*.jsonl"))
    env = {**os.environ, "COLUMNS": "80"}
    fault("bad-deploy")
    try:
        wait_until(lambda: error_ratio(sandbox) > 5, 90, "the error ratio over 5%", **WATCH)
        path, _, (out, err) = interrupted_after_the_rollback(["runbook", "high-error-rate", "--yes"], env, runs, before)
        assert "interrupted after step rollback was applied" in " ".join(err.split()), err
        rolled_back = revision(sandbox)
        assert image(sandbox) == GOOD

        # Engineer B takes over once the rollout A interrupted has finished. (Resuming in
        # the middle of it, the logs step once failed on a pod that was going away.)
        KubeHTTP(sandbox.url("kubeapi")).wait_for_rollout(NAMESPACE, "dits-server")
        # Engineer B: the same targets and store, another machine's (empty) records.
        run_id = path.stem
        done = subprocess.run(
            [sys.executable, "-m", "ditsops", "runbook", "resume", run_id[:-3]] + ["--yes", "--non-interactive"],
            env=engineer_b(sandbox, tmp_path / "b-state", env),
            text=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=400,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert revision(sandbox) == rolled_back  # not rolled back a second time
        assert f"applied in run {run_id}, not offered again" in " ".join(done.stdout.split())
        assert "resolved: verified by recovered" in done.stdout
        assert f"\nresumes run {run_id}\n" in done.stdout  # the header's line, in the first lines
        b_runs = list((tmp_path / "b-state" / "ditsops" / "runs").glob("*.jsonl"))
        first = json.loads(b_runs[0].read_text().splitlines()[0])
        assert first["event"] == "run-start" and first["parent"] == run_id
        assert wait_until(lambda: store_parent(sandbox, b_runs[0].stem), 30, "B's run in the store") == run_id
    finally:
        fault("bad-deploy", "--clear")


def test_both_faults_at_once_the_error_rate_walk_keeps_off_the_scale_out_and_names_the_database(sandbox: Sandbox):
    """db-exhaustion and bad-deploy together: HighErrorRate's walk shows the database's
    alert in its header, does not offer the scale-out while it fires (more pods, more
    pools), does not open the S3 branch (storage is healthy), and its verdict names it."""
    fault("db-exhaustion")
    fault("bad-deploy")
    try:
        firing_within(sandbox.prometheus, {"HighErrorRate", "DatabaseConnectionsExhausted"}, 240)
        done = run_cli(
            "--profile", "sandbox", "runbook", "--alert", "HighErrorRate", "--dry-run",
            env={"COLUMNS": "80"}, timeout=300,
        )  # fmt: skip
        out = done.stdout
        flat = " ".join(out.split())
        header = [line for line in out.splitlines() if line.startswith("also firing: ")]
        # its runbook's command whole on the line (soft-wrapped: it pastes as one line)
        command = "ditsops --profile sandbox runbook --alert DatabaseConnectionsExhausted"
        assert any(f"DatabaseConnectionsExhausted (critical): {command}" in line for line in header), out[:3000]
        assert "Scale dits-server out" in out and "not while DatabaseConnectionsExhausted (critical) fires" in flat
        assert "dry run: previewed" in flat  # the rollback, previewed
        assert "object storage reachable" not in flat.split("Check object storage")[-1].split("Error ratio back")[0]
        last = flat.rsplit("not resolved", 1)[-1]
        assert "still firing: DatabaseConnectionsExhausted (critical)" in last, flat[-1500:]
        # Piped at 80 columns, the verdict's command to run next is one line: it pastes whole.
        verdict = next(line for line in out.splitlines() if "still firing:" in line)
        assert "ditsops --profile sandbox runbook --alert DatabaseConnectionsExhausted" in verdict, out[-1500:]
        assert done.returncode == 3, flat[-1500:]
    finally:
        fault("bad-deploy", "--clear")
        fault("db-exhaustion", "--clear")
        resolved_within(sandbox.prometheus, {"HighErrorRate", "DatabaseConnectionsExhausted"}, 240)
