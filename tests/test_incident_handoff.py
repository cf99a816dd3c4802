"""Incidents through the shared store: two engineers, each with a home of their own (XDG
directories) and an identity, one store and one real Alertmanager. What one starts for a
firing alert the other sees, joins, is handed, and may close only once the alert stops."""

from __future__ import annotations

import json
import secrets
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken, wait_until
from tests.store_fixtures import store_db  # noqa: F401 - a fixture

INSTALL = "apt-get install --no-install-recommends prometheus-alertmanager"
DRILL = """
    name: inc-drill
    title: Incident drill
    alert: {alert}
    steps:
      - id: look
        title: Look at the logs
        note: Read the server logs for errors.
"""


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_binary("prometheus-alertmanager", INSTALL)
    service = retry_if_port_taken(lambda: promstack.start_alertmanager(tmp_path_factory.mktemp("am")))
    yield service
    promstack.stop(service.pid, service.cmdline_marker)


def fire(url: str, alert: str, labels: dict[str, str], *, resolved: bool = False) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": {"alertname": alert, "severity": "critical", **labels},
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": (now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)).isoformat(),
        }
    ]
    httpx.post(f"{url}/api/v2/alerts", json=body, timeout=5).raise_for_status()

    def active() -> bool:
        found = httpx.get(f"{url}/api/v2/alerts", params={"filter": f'alertname="{alert}"'}, timeout=5).json()
        return any(a["labels"] == {"alertname": alert, "severity": "critical", **labels} for a in found)

    wait_until(active, 10, f"{alert} {'resolved' if resolved else 'firing'}", until=lambda up: up != resolved)


def engineer(tmp_path: Path, name: str, store: str, alertmanager_url: str, alert: str) -> dict[str, str]:
    """An engineer's environment: a home of their own, their name, the team's store."""
    home = tmp_path / name
    books = home / "config" / "ditsops" / "runbooks"
    books.mkdir(parents=True)
    (books / "inc-drill.yaml").write_text(textwrap.dedent(DRILL.format(alert=alert)))
    return {
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "DITSOPS_USER": name,
        "DITSOPS_RECORD_STORE": store,
        "DITSOPS_ALERTMANAGER_URL": alertmanager_url,
        "COLUMNS": "80",
    }


def cli_json(*args: str, env: dict[str, str]) -> Any:
    done = run_cli(*args, "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def team(tmp_path: Path, store_db: str, alertmanager: Any, isolated_home: Any) -> tuple[dict, dict, str]:  # noqa: F811
    alert = f"IncDrill{secrets.token_hex(3)}"  # each test its own alert: incidents are shared
    fire(alertmanager.url, alert, {"job": "dits-server"})
    ana = engineer(tmp_path, "ana", store_db, alertmanager.url, alert)
    ben = engineer(tmp_path, "ben", store_db, alertmanager.url, alert)
    return ana, ben, alert


def mine(incidents: list[dict[str, Any]], alert: str) -> list[dict[str, Any]]:
    return [i for i in incidents if i["alerts"][0]["alert"] == alert]


def test_two_engineers_share_one_incident_see_each_others_runs_and_hand_it_over(team, alertmanager) -> None:
    ana, ben, alert = team
    started = run_cli("runbook", "--alert", alert, "--non-interactive", env=ana)
    assert started.returncode == 0, started.stderr
    assert "incident inc-" in started.stderr and "opened" in started.stderr

    (incident,) = mine(cli_json("incident", "list", env=ben), alert)
    assert incident["state"] == "open" and incident["opened_by"] == "ana"
    assert incident["last_action"]["who"] == "ana"
    ident = incident["id"]

    # ben runs the same runbook by name: its alert fires, so he joins ana's incident
    joined = run_cli("runbook", "inc-drill", "--non-interactive", env=ben)
    assert joined.returncode == 0 and f"incident {ident} joined" in joined.stderr

    shown = cli_json("incident", "show", ident, env=ana)
    who = [e["who"] for e in shown["timeline"] if e["run"]]
    assert who[0] == "ana" and who[-1] == "ben" and {"ana", "ben"} == set(who)
    times = [e["time"] for e in shown["timeline"]]
    assert times == sorted(times)
    assert [v["who"] for v in shown["verdicts"]] == ["ana", "ben"]

    # each sees the other's runs in the team's listing, filtered by the incident
    runs = cli_json("runbook", "runs", "--incident", ident, env=ben)
    assert [r["user"] for r in runs] == ["ana", "ben"] and {r["incident"] for r in runs} == {ident}
    assert [r["user"] for r in cli_json("runbook", "runs", "--incident", ident, "--mine", env=ana)] == ["ana"]

    handed = run_cli("incident", "handoff", ident, "--to", "ben", "--note", "logs read; watch the error rate", env=ana)
    assert handed.returncode == 0, handed.stderr
    (incident,) = mine(cli_json("incident", "list", env=ben), alert)
    assert incident["state"] == "handed off" and incident["handed_to"] == "ben"

    # closing is refused while the alert fires: one line, exit 5, nothing recorded
    refused = run_cli("incident", "close", ident, env=ben)
    assert refused.returncode == 5 and refused.stderr.startswith(f"ditsops: incident {ident} not closed: {alert}")
    assert "Traceback" not in refused.stderr
    assert mine(cli_json("incident", "list", env=ben), alert)

    fire(alertmanager.url, alert, {"job": "dits-server"}, resolved=True)
    closed = run_cli("incident", "close", ident, "--note", "quiet again", env=ben)
    assert closed.returncode == 0, closed.stderr
    assert mine(cli_json("incident", "list", env=ana), alert) == []
    final = cli_json("incident", "show", ident, env=ana)
    assert final["state"] == "closed" and final["timeline"][-1]["kind"] == "close"
    assert final["timeline"][-1]["who"] == "ben" and "forced" not in final["timeline"][-1]["text"]


def test_a_forced_close_while_firing_is_recorded_with_the_alerts_firing(team) -> None:
    ana, _, alert = team
    assert run_cli("runbook", "--alert", alert, "--non-interactive", env=ana).returncode == 0
    (incident,) = mine(cli_json("incident", "list", env=ana), alert)
    handed = cli_json("incident", "handoff", incident["id"], "--to", "ben", "--note", "over to you", env=ana)
    assert handed == {"incident": incident["id"], "seq": handed["seq"], "to": "ben", "by": "ana"}
    closed = run_cli("incident", "close", incident["id"], "--force", env=ana)
    assert closed.returncode == 0, closed.stderr
    assert "forced while firing" in closed.stdout and alert in closed.stdout
    again = run_cli("incident", "close", incident["id"], "--force", "-o", "json", env=ana)
    assert again.returncode == 1 and again.stderr.startswith(f"ditsops: incident {incident['id']} is already closed")
    final = cli_json("incident", "show", incident["id"], env=ana)
    assert final["timeline"][-1]["text"].startswith(f"closed (forced while firing: {alert}")
    markdown = run_cli("incident", "show", incident["id"], "--markdown", env=ana).stdout
    assert markdown.startswith(f"# Incident {incident['id']}: {alert}") and "| ana |" in markdown


def test_incident_list_and_show_fit_80_columns_piped(team) -> None:
    ana, _, alert = team
    assert run_cli("runbook", "--alert", alert, "--non-interactive", env=ana).returncode == 0
    listing = run_cli("incident", "list", env=ana)
    assert listing.returncode == 0 and alert in listing.stdout
    (incident,) = mine(cli_json("incident", "list", env=ana), alert)
    shown = run_cli("incident", "show", incident["id"], env=ana)
    assert shown.returncode == 0 and "Next step" in shown.stdout and "Timeline (UTC)" in shown.stdout
    for line in listing.stdout.splitlines() + shown.stdout.splitlines():
        assert len(line) <= 80, line


def test_without_a_store_incidents_say_so_in_one_line_exit_2(isolated_home: Any) -> None:
    for args in (["list"], ["show", "inc-abcdef"], ["close", "inc-abcdef"]):
        done = run_cli("incident", *args)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "ditsops: incidents need a record store: set record_store in a profile or DITSOPS_RECORD_STORE"
        ]


def test_an_incident_id_that_is_not_one_is_a_usage_error(store_db: str, isolated_home: Any) -> None:  # noqa: F811
    env = {"DITSOPS_RECORD_STORE": store_db}
    done = run_cli("incident", "show", "'; DROP TABLE ditsops.runs; --", env=env)
    assert done.returncode == 2 and "is not an incident id" in done.stderr
    missing = run_cli("incident", "close", "inc-000000", env=env)
    assert missing.returncode == 2 and "no incident inc-000000 in the record store" in missing.stderr


def test_a_direct_destructive_command_joins_the_open_incident_of_its_target(team) -> None:
    ana, ben, alert = team
    assert run_cli("runbook", "--alert", alert, "--non-interactive", env=ana).returncode == 0
    (incident,) = mine(cli_json("incident", "list", env=ana), alert)
    silenced = run_cli(
        "silence", "add", "--alert", alert, "--comment", "rolling back", "--for", "10m", "--yes", env=ben
    )
    assert silenced.returncode == 0, silenced.stderr
    assert f"incident {incident['id']} joined" in silenced.stderr
    runs = cli_json("runbook", "runs", "--incident", incident["id"], env=ana)
    assert [(r["user"], r["kind"]) for r in runs] == [("ana", "walk"), ("ben", "command")]
    # what ben applied is on the incident, with its undo, for everyone
    (listed,) = mine(cli_json("incident", "list", env=ana), alert)
    (change,) = listed["applied"]
    assert change["who"] == "ben" and change["text"].startswith("applied silence-add") and "undo:" in change["text"]
    assert "applied:" in run_cli("incident", "list", env=ana).stdout
    # a command on a target no open incident names joins none
    other = run_cli("silence", "add", "--alert", "NothingFiresThis", "--comment", "x", "--for", "1m", "--yes", env=ben)
    assert other.returncode == 0 and "incident" not in other.stderr


def test_hostile_label_values_are_shown_as_text_never_obeyed(store_db: str, alertmanager, tmp_path: Path) -> None:  # noqa: F811
    alert = f"IncHostile{secrets.token_hex(3)}"
    labels = {"job": "dits-server", "note": "\x1b[2J[bold red]pwned[/]\nsecond line"}
    fire(alertmanager.url, alert, labels)
    ana = engineer(tmp_path, "ana", store_db, alertmanager.url, alert)
    assert run_cli("runbook", "--alert", alert, "--non-interactive", env=ana).returncode == 0
    listing = run_cli("incident", "list", env=ana)
    assert listing.returncode == 0, listing.stderr
    mine_lines = [line for line in listing.stdout.splitlines() if "pwned" in line]
    assert mine_lines and "\x1b" not in listing.stdout and "\\x1b[2J[bold red]pwned[/]" in mine_lines[0]
    assert all(len(line) <= 80 for line in listing.stdout.splitlines())
    (incident,) = mine(cli_json("incident", "list", env=ana), alert)
    assert incident["alerts"][0]["labels"]["note"] == labels["note"]  # JSON keeps it exact
    fire(alertmanager.url, alert, labels, resolved=True)
    assert run_cli("incident", "close", incident["id"], env=ana).returncode == 0


def test_a_run_joins_an_incident_by_id_the_seam_for_resume(team) -> None:
    from ditsops.core.config import Settings
    from ditsops.incidents.joining import join_for_run

    ana, _, alert = team
    assert run_cli("runbook", "--alert", alert, "--non-interactive", env=ana).returncode == 0
    (incident,) = mine(cli_json("incident", "list", env=ana), alert)
    settings = Settings(record_store=ana["DITSOPS_RECORD_STORE"])
    joined = join_for_run(settings, "20261207T000000Z-resumed-00000000", "inc-drill", incident=incident["id"])
    assert joined.incident == incident["id"] and joined.problem is None
    timeline = cli_json("incident", "show", incident["id"], env=ana)["timeline"]
    assert timeline[-1]["kind"] == "join" and "inc-drill" in timeline[-1]["text"]
    missing = join_for_run(settings, "20261207T000000Z-resumed-00000001", "inc-drill", incident="inc-ffffff")
    assert missing.incident is None and "no incident inc-ffffff" in (missing.problem or "")
