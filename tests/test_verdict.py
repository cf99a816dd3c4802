"""The verdict rule (core/verdict.py), in-process and through the CLI: `resolved` only when
every verify step passed on its latest check; a declined fix, a check that could not run,
or failing checks without a verify step are "not resolved" (exit 3); a run that reached no
target is a usage error; a ticked manual step makes the verify wait."""

from __future__ import annotations

import os
import sys
import textwrap

import pexpect

from ditsops.base.errors import ExitCode
from ditsops.core.model import Escalation, Step
from ditsops.core.results import Status, StepResult
from ditsops.core.steps.note import NoteSpec
from ditsops.core.steps.verify import VerifySpec
from ditsops.core.verdict import Walked, conclude
from tests.cli import run_cli

CHECK = Step(id="errors", title="Error ratio", kind="promql", spec=None, unit="percent")
FIX = Step(id="rollback", title="Roll back", kind="kube:rollout-undo", spec=None)
VERIFY = Step(id="recovered", title="Recovered", kind="verify", spec=VerifySpec("errors", 60.0, 2.0, "ok"))
HUMAN = Step(id="expand", title="Expand", kind="note", spec=NoteSpec("Expand the volume.", "the volume expanded"))
STEPS = {s.id: s for s in (CHECK, FIX, VERIFY, HUMAN)}
FAILING = StepResult(Status.FAILING, "15.0%", value=15.0)
OK = StepResult(Status.OK, "0.3%", value=0.3)


def verdict(walked: list[tuple[Step, StepResult]], latest: dict[str, StepResult], escalation=()):
    return conclude([Walked(s, r) for s, r in walked], latest, STEPS, escalation)


def test_a_verify_that_passed_resolves():
    done = verdict([(CHECK, FAILING), (FIX, StepResult(Status.APPLIED)), (VERIFY, OK)], {"errors": OK})
    assert done.exit_code == ExitCode.OK and done.reason == "resolved: verified by recovered"


def test_a_verify_still_failing_is_not_resolved_with_its_value():
    done = verdict([(CHECK, FAILING), (FIX, StepResult(Status.APPLIED)), (VERIFY, FAILING)], {"errors": FAILING})
    assert done.exit_code == ExitCode.CHECK_FAILED
    assert done.reason == "not resolved: errors failing at 15.0%"


def test_a_declined_fix_is_never_resolved():
    done = verdict([(CHECK, FAILING), (FIX, StepResult(Status.DECLINED)), (VERIFY, OK)], {"errors": OK})
    assert done.exit_code == ExitCode.CHECK_FAILED and done.reason.startswith("not resolved: fix declined: rollback")


def test_a_check_that_could_not_run_is_not_resolved():
    skipped = StepResult(Status.SKIPPED, "not configured: no Prometheus URL configured", not_configured=True)
    applied = StepResult(Status.APPLIED)
    done = verdict([(CHECK, skipped), (FIX, applied), (VERIFY, skipped)], {"errors": skipped})
    assert done.exit_code == ExitCode.CHECK_FAILED
    assert "errors not checked (not configured: no Prometheus URL configured)" in done.reason


def test_without_verify_steps_failing_checks_are_not_resolved():
    assert verdict([(CHECK, FAILING)], {"errors": FAILING}).exit_code == ExitCode.CHECK_FAILED
    assert verdict([(CHECK, OK)], {"errors": OK}).exit_code == ExitCode.OK


def test_the_human_task_and_the_escalation_are_named():
    pending = StepResult(Status.PENDING, "manual step: not ticked off")
    escalation = (Escalation(after=__import__("datetime").timedelta(minutes=30), say="Page the on-call engineer"),)
    done = verdict([(CHECK, FAILING), (HUMAN, pending), (VERIFY, FAILING)], {"errors": FAILING}, escalation)
    assert done.reason == (
        "not resolved: errors failing at 15.0%; needs the volume expanded; escalate: Page the on-call engineer"
    )


def test_a_human_task_whose_condition_did_not_hold_is_not_named():
    skipped = StepResult(Status.SKIPPED, "runs when errors is failing; it is ok (0.5%)")
    done = verdict([(CHECK, FAILING), (HUMAN, skipped), (VERIFY, FAILING)], {"errors": FAILING})
    assert "needs" not in done.reason


def test_refused_unreachable_and_errors_keep_their_codes():
    refused = verdict([(CHECK, FAILING), (FIX, StepResult(Status.REFUSED))], {"errors": FAILING})
    unreachable = verdict([(CHECK, StepResult.failed("connection refused", unreachable=True))], {})
    assert refused.exit_code == ExitCode.REFUSED and unreachable.exit_code == ExitCode.UNREACHABLE


def test_a_run_with_no_target_configured_exits_2(isolated_home, tmp_path):
    # No profile, no DSN, no URLs, no kubeconfig: what `ditsops alerts`' suggestion would
    # have run before suggestions carried --profile.
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "missing")}
    done = run_cli("runbook", "service-down", "--non-interactive", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no target configured: use --profile" in done.stdout
    assert "resolved" not in done.stdout.replace("not resolved", "")
    # Each skipped step says which setting is missing and how to set it.
    assert "set DITSOPS_PROMETHEUS_URL or 'prometheus_url' in a profile" in done.stdout


TICKED = """
    name: ticked
    title: A manual fix, then a verify
    steps:
      - id: count
        title: Idle in transaction
        sql: |
          SELECT count(*) AS n FROM pg_stat_activity
          WHERE application_name = '{app}' AND state = 'idle in transaction'
        value: n
        threshold: {{fail: 1}}
      - id: fix
        title: Close the leaked transactions by hand
        note: Restart the client that leaks.
        needs: the leaking client restarted
      - id: recount
        title: Idle in transaction after the fix
        verify: count
        within: 2m
        every: 1s
"""


def test_a_ticked_manual_step_makes_the_verify_wait_and_shows_its_value(
    tmp_path, pg_dsn, diag_dsn, isolated_home, sessions
):
    path = tmp_path / "ticked.yaml"
    path.write_text(textwrap.dedent(TICKED.format(app=sessions.app)))
    leaked = [sessions.idle_in_transaction() for _ in range(2)]
    env = {**os.environ, "DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn, "COLUMNS": "120"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "runbook", str(path)],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.expect(r"Done\?")
    child.sendline("y")
    # The verify waits (the engineer changed something) and shows the latest value meanwhile.
    child.expect(r"count failing: 2")
    child.expect("left")
    for connection in leaked:
        connection.close()
    child.expect("resolved: verified by recount")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
