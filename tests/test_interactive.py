"""Interactive runs through a real pseudo-terminal: preview first, nothing changes before
the answer, `n` changes nothing, `y` acts and is recorded, production asks for the name."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pexpect
import pytest

RUNBOOK = """
    name: practice
    title: Practice terminate
    params:
      app: {{type: string, default: {app}}}
    steps:
      - id: count
        title: Idle in transaction
        sql: |
          SELECT count(*) AS n FROM pg_stat_activity
          WHERE application_name = {{{{ app }}}} AND state = 'idle in transaction'
        value: n
        threshold: {{warn: 1, fail: 2}}
      - id: look
        title: Look at the logs
        note: Check the server logs for pool time-outs.
      - id: kill
        title: Terminate the idle transactions
        when: count failing
        action: terminate-backends
        filters: {{application: "{{{{ app }}}}", state: idle in transaction}}
      - id: recount
        title: Idle in transaction after the fix
        verify: count
        within: 20s
        every: 1s
"""


@pytest.fixture
def setup(tmp_path, pg_dsn, diag_dsn, isolated_home, sessions):
    path = tmp_path / "practice.yaml"
    path.write_text(textwrap.dedent(RUNBOOK.format(app=sessions.app)))
    env = {
        **os.environ,
        "DITSOPS_DSN": pg_dsn,
        "DITSOPS_DIAGNOSTICS_DSN": diag_dsn,
        "COLUMNS": "160",
        "USER": "oncall-bo",
    }
    return path, env


def spawn(env, *args) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-m", "ditsops", *args], env=env, encoding="utf-8", timeout=30, dimensions=(50, 160)
    )
    return child


def last_record(isolated_home) -> list[dict]:
    runs = sorted((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(line) for line in runs[-1].read_text().splitlines()]


def test_n_at_the_prompt_terminates_nothing(setup, sessions, isolated_home):
    path, env = setup
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    child = spawn(env, "runbook", str(path))
    child.expect("Check the server logs")
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect("This will terminate 3 backends")
    child.expect(r"\[y/N\]")
    preview = child.before
    assert all(str(pid) in preview for pid in victims), preview  # every target named, pid by pid
    assert victims <= sessions.alive()  # nothing happens before the answer
    child.sendline("n")
    child.expect("declined")
    child.expect("not resolved: fix declined: kill; count failing at 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3  # declining the fix never ends "resolved"
    assert victims <= sessions.alive()
    decision = next(e for e in last_record(isolated_home) if e["event"] == "decision")
    assert decision["approved"] is False and decision["how"] == "declined (answered n)"
    assert decision["by"].startswith("oncall-bo@")


def test_enter_alone_means_no(setup, sessions):
    path, env = setup
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    child = spawn(env, "runbook", str(path))
    child.expect(r"Done\?")
    child.sendline("")
    child.expect(r"\[y/N\]")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3  # Enter is "no": the fix was declined, the run is not resolved
    assert victims <= sessions.alive()


def test_y_at_the_prompt_terminates_and_is_recorded(setup, sessions, isolated_home):
    path, env = setup
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    child = spawn(env, "runbook", str(path))
    child.expect(r"Done\?")
    child.sendline("s")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("terminated 3 of 3 previewed backends")
    child.expect("resolved: verified by recount")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not victims & sessions.alive()
    events = last_record(isolated_home)
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["approved"] is True and decision["how"] == "answered y"
    look = next(e for e in events if e["event"] == "step" and e["step"] == "look")
    assert look["status"] == "skipped"


def test_production_profile_needs_the_typed_target_name(setup, sessions, isolated_home, pg_dsn, diag_dsn):
    path, env = setup
    config = isolated_home.config / "ditsops" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[profiles.prod]\ndsn = "{pg_dsn}"\ndiagnostics_dsn = "{diag_dsn}"\nproduction = true\n')
    env = {k: v for k, v in env.items() if k not in ("DITSOPS_DSN", "DITSOPS_DIAGNOSTICS_DSN")}
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}

    child = spawn(env, "--profile", "prod", "runbook", str(path))
    child.expect("PRODUCTION")  # the header says it, loud
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect("Type .*postgres.* to confirm")
    child.sendline("y")  # a reflexive 'y' is not the name: asked again
    child.expect("2 more tries")
    child.sendline("n")  # n declines at once
    child.expect("declined")
    child.expect(pexpect.EOF)
    assert victims <= sessions.alive()

    child = spawn(env, "--profile", "prod", "runbook", str(path))
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect("to confirm")
    child.sendline("postgres")
    child.expect("terminated 3 of 3")
    child.expect(pexpect.EOF)
    assert not victims & sessions.alive()
    decision = next(e for e in last_record(isolated_home) if e["event"] == "decision")
    assert decision["how"] == "typed the target name"


def test_ctrl_c_at_the_prompt_changes_nothing_and_exits_130(setup, sessions, isolated_home):
    path, env = setup
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    child = spawn(env, "runbook", str(path))
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect(r"\[y/N\]")
    child.sendintr()
    child.expect("interrupted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in (child.before or "")
    assert victims <= sessions.alive()
    assert last_record(isolated_home)[-1]["reason"].startswith("interrupted")


def test_db_terminate_asks_too(pg_dsn, isolated_home, sessions):
    victim = sessions.idle_in_transaction().info.backend_pid
    env = {**os.environ, "DITSOPS_DSN": pg_dsn, "COLUMNS": "160"}
    child = spawn(env, "db", "terminate", "--pid", str(victim))
    child.expect(str(victim))
    child.expect(r"\[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    assert victim in sessions.alive()


@pytest.mark.parametrize(
    "pipe",
    [
        "| tee {log}",  # stdout into the log; stderr, where the questions go, on the terminal
        "2>&1 | cat > {log}",  # both streams into the log: the questions go to the terminal itself
    ],
)
def test_piped_into_a_log_the_run_still_asks_and_the_log_holds_the_walk_without_the_questions(
    setup, sessions, tmp_path, pipe
):
    import shlex

    path, env = setup
    log = tmp_path / "incident.log"
    victims = {sessions.idle_in_transaction().info.backend_pid for _ in range(3)}
    command = shlex.join([sys.executable, "-m", "ditsops", "runbook", str(path)])
    child = pexpect.spawn(
        "bash",
        ["-c", f"set -o pipefail; {command} {pipe.format(log=shlex.quote(str(log)))}"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 160),
    )
    child.expect(r"Done\?")
    child.sendline("y")
    child.expect(r"\[y/N\]")
    assert victims <= sessions.alive()  # asked, and nothing happened before the answer
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # the pipeline's: ditsops resolved the incident
    assert not victims & sessions.alive()
    walk = log.read_text()
    for said in ("Check the server logs", "This will terminate 3 backends", "terminated 3 of 3 previewed backends"):
        assert said in walk
    assert "resolved: verified by recount" in walk
    assert "[y/N]" not in walk and "Done?" not in walk  # the questions stayed on the terminal
