"""Practice that does not mislead: the shipped runbooks' escalation reminders and the
sandbox faults' evidence (log lines, GC facts) say what the real incident would."""

from __future__ import annotations

import json
import random
import re

import pytest

from ditsops.core.catalog import shipped_dir
from ditsops.core.loader import load_runbook
from ditsops.sandbox.serverlogs import KubeLogWriter, Push, ServerState
from ditsops.sandbox.simmodel import DitsModel
from tests.cli import run_cli
from tests.kubeapi_fixtures import kubeapi, seeded  # noqa: F401 (fixtures)

WHO = r"(Page|Tell) the (secondary on-call|DBA on call|engineering manager|storage team)\b"
SHIPPED = sorted(shipped_dir().glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_escalation_names_who_to_page_not_the_reader(path):
    """The walk is read by the on-call engineer: "Page the on-call engineer" tells them to
    page themselves. Each reminder names someone else, as the escalation says it."""
    book = load_runbook(path)
    assert book.escalation, f"{path.name} has no escalation"
    for reminder in book.escalation:
        named = re.match(WHO, reminder.say)
        assert named, f"{path.name}: {reminder.say!r} does not name who to page"
        assert "on-call engineer" not in reminder.say, f"{path.name}: {reminder.say!r} is said to its own reader"


def test_high_error_rate_escalates_to_the_secondary_then_the_manager():
    book = load_runbook(shipped_dir() / "high-error-rate.yaml")
    assert [(int(e.after.total_seconds() // 60), e.say) for e in book.escalation] == [
        (15, "Page the secondary on-call"),
        (30, "Page the engineering manager"),
    ]


# --- the server's log lines ------------------------------------------------------------


class Server:
    """What the simulated server goes through, changed by the test between writes."""

    def __init__(self) -> None:
        self.state = ServerState(version="1.4.2")

    def __call__(self) -> ServerState:
        return self.state


@pytest.fixture
def pod_logs(seeded, tmp_path, isolated_home):  # noqa: F811 (a fixture)
    """A log writer into the seeded dits-server pods, and `ditsops k8s logs` reading them."""
    server = Server()
    writer = KubeLogWriter(seeded.url, server, seed=7)

    def read(*args: str) -> list[str]:
        env = {"KUBECONFIG": str(seeded.write_kubeconfig(tmp_path / "kubeconfig")), "COLUMNS": "80"}
        done = run_cli("k8s", "-n", "dits", "logs", "-l", "app=dits-server", *args, "-o", "json", env=env)
        assert done.returncode == 0, done.stderr
        return [entry["line"] for entry in json.loads(done.stdout)]

    return server, writer, read


def test_error_spike_writes_error_lines_that_name_a_stuck_server(pod_logs):
    """During error-spike (15% 5xx, no deploy) `k8s logs --grep ERROR` and the runbook's log
    step find ERROR lines, and they name the cause the restart branch fixes."""
    server, writer, read = pod_logs
    writer.write_once()
    assert read("--grep", "ERROR") == []  # healthy: no ERROR line
    server.state = ServerState(version="1.4.2", faults=frozenset({"error-spike"}))
    for _ in range(3):
        writer.write_once()
    errors = read("--grep", "ERROR")
    assert len(errors) == 6
    assert all("-> 500 Internal Server Error" in line and "version=1.4.2" in line for line in errors)
    assert all("poisoned cache" in line or "stale pooled connection" in line for line in errors), errors
    server.state = ServerState(version="1.4.2")  # a restart healed it: no new ERROR lines
    writer.write_once()
    assert len(read("--grep", "ERROR")) == 6


def test_a_bad_release_logs_its_own_bugs_not_a_stuck_server(pod_logs):
    """With 1.5.0 deployed the simulator also applies error-spike; the lines name the release."""
    server, writer, read = pod_logs
    server.state = ServerState(version="1.5.0", bad_image=True, faults=frozenset({"error-spike"}))
    writer.write_once()
    errors = read("--grep", "ERROR")
    assert errors and all("version=1.5.0" in line and "poisoned" not in line for line in errors)


def test_large_upload_logs_the_push_that_names_its_repository_and_user(pod_logs):
    """The large-upload runbook shows "Push commit started" lines to find the uploader."""
    server, writer, read = pod_logs
    server.state = ServerState(version="1.4.2", faults=frozenset({"large-upload"}))
    for _ in range(4):
        writer.write_once()
    started = read("--grep", "Push commit started")
    assert len(started) == 1, started  # once, when the push begins
    fields = dict(part.split("=", 1) for part in started[0].split() if "=" in part)
    assert re.fullmatch(r"[0-9a-f-]{36}", fields["repo_id"]) and fields["user_id"].startswith("user-")
    assert read("--grep", "Push commit completed") == []
    server.state = ServerState(version="1.4.2")
    writer.write_once()
    completed = read("--grep", "Push commit completed")
    assert len(completed) == 1 and f"repo_id={fields['repo_id']}" in completed[0]


def test_the_large_upload_runbook_greps_for_the_lines_the_server_writes():
    book = load_runbook(shipped_dir() / "large-upload.yaml")
    pushes = next(step for step in book.steps if step.id == "pushes")
    pattern = re.compile(pushes.spec.fields["grep"])
    push = Push("0f0f0f0f-0000-4000-8000-000000000000", "user-42", "abc")
    assert pattern.search(push.started("1.4.2")) and pattern.search(push.completed("1.4.2", random.Random(1)))
    owner = next(step for step in book.steps if step.id == "owner")
    assert "bytes_uploaded" not in owner.spec.text  # no such field on the lines that exist


# --- GC facts -----------------------------------------------------------------------------


def gc_facts(model: DitsModel, now: float) -> dict[str, float]:
    """What the gc-not-running runbook reads, as the metrics say it."""
    text = model.render()

    def value(name: str) -> float:
        return float(re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M).group(1))

    return {
        "started": value("dits_gc_runs_total"),
        "completed": value("dits_gc_duration_seconds_count"),
        "deleted": value("dits_gc_chunks_deleted_total"),
        "since_last_completed": now - value("dits_gc_last_run_timestamp"),
    }


def test_gc_stalled_runs_start_and_fail_so_runs_started_and_last_completed_agree():
    """ "4 GC runs in the last day" beside "last ran 2d00h ago" contradicted itself. Stalled,
    the schedule's runs still start (the runs counter moves) but none completes: nothing is
    deleted, no duration is observed, the last completed run stays two days old."""
    now = 1_000_000.0
    model = DitsModel(now, random.Random(3))
    model.advance(now + 1, frozenset({"gc-stalled"}))
    before = gc_facts(model, now + 1)
    assert before["since_last_completed"] > 2 * 86400 - 10
    for minute in range(1, 11):
        model.advance(now + 1 + 60 * minute, frozenset({"gc-stalled"}))
    after = gc_facts(model, now + 601)
    assert after["started"] - before["started"] >= 5  # every GC period a scheduled run starts
    assert after["completed"] == before["completed"] and after["deleted"] == before["deleted"]
    assert after["since_last_completed"] > 2 * 86400  # still: none of them completed

    model.advance(now + 700, frozenset())  # the fix: a run completes at once
    fixed = gc_facts(model, now + 700)
    assert fixed["since_last_completed"] == 0 and fixed["completed"] == after["completed"] + 1
    assert fixed["started"] == after["started"] + 1 and fixed["deleted"] > after["deleted"]


def test_the_gc_runbook_says_runs_started_as_the_counter_counts():
    book = load_runbook(shipped_dir() / "gc-not-running.yaml")
    titles = {step.id: step.title for step in book.steps}
    assert titles["gc-runs"] == "GC runs started in the last day"
    assert titles["since-last-gc"] == "Time since the last completed GC run"


# --- db-exhaustion's leftover sessions -------------------------------------------------------

KEPT = (
    "connections",
    "running-queries",
    "kill-idle-transactions",
    "kill-long-queries",
    "recount",
    "kill-young-queries",
)


def database_part(tmp_path, application: str):
    """The shipped db-connections-exhausted runbook's PostgreSQL steps and its verifies (the
    Prometheus and Kubernetes ones need services this test does not start)."""
    import yaml

    book = yaml.safe_load((shipped_dir() / "db-connections-exhausted.yaml").read_text())
    book["params"]["application"]["default"] = application
    book["steps"] = [s for s in book["steps"] if s["id"] in KEPT or s.get("verify") == "running-queries"]
    book["name"] = "db-part"
    path = tmp_path / "db-part.yaml"
    path.write_text(yaml.safe_dump(book, sort_keys=False))
    return path


def test_hour_long_queries_younger_than_older_than_are_counted_and_offered_to_terminate(
    sessions, pg_dsn, diag_dsn, tmp_path, isolated_home
):
    """db-exhaustion ended `resolved` while its pg_sleep(3600) sessions, too young for the
    5m terminate, held a third of the slots. The verify after the terminations counts them;
    left running (a dry run changes nothing) the verdict says not resolved; terminated (the
    step the runbook then offers, taken here with --yes) the walk resolves."""
    sleepers = [sessions.active(3600) for _ in range(31)]  # 31% of max_connections=100
    pids = {conn.info.backend_pid for conn in sleepers}
    sessions.wait_until(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{sessions.app}' AND state = 'active'", 31
    )
    path = database_part(tmp_path, sessions.app)
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn, "COLUMNS": "80"}
    done = run_cli("runbook", str(path), "--dry-run", "--output", "json", env=env)
    assert done.stdout, done.stderr
    document = json.loads(done.stdout)
    assert done.returncode == 3, document["reason"]
    assert "running-queries failing at 31.0%" in document["reason"], document["reason"]
    steps = {step["id"]: step for step in document["steps"]}
    assert steps["running-queries"]["status"] == "failing" and steps["running-queries"]["value"] == 31.0
    assert steps["kill-long-queries"]["status"] != "applied"  # younger than 5m: spared, as the spec says
    assert pids <= sessions.alive()

    done = run_cli("runbook", str(path), "--yes", "--output", "json", env=env)
    document = json.loads(done.stdout)
    steps = {step["id"]: step for step in document["steps"]}
    assert steps["queries-still-running"]["status"] == "failing", steps["queries-still-running"]["summary"]
    assert steps["kill-young-queries"]["status"] == "applied", steps["kill-young-queries"]["summary"]
    assert "terminated 31 of 31" in steps["kill-young-queries"]["summary"]
    assert done.returncode == 0, document["reason"]  # the latest check of running-queries passed
    assert not pids & sessions.alive()
