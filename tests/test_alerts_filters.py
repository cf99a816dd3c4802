"""`alerts --severity` and the severity-then-age order, and `silence expire` by a unique id
prefix (amtool's short ids), against a real Alertmanager holding alerts and silences
posted to its API."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ditsops.sandbox import promstack
from tests.cli import run_cli
from tests.helpers import require_binary, retry_if_port_taken, wait_until

INSTALL = "apt-get install --no-install-recommends prometheus-alertmanager"

# name, severity (None: no severity label), minutes since it started
ALERTS = [
    ("FilterWarn", "warning", 60),
    ("FilterCritNew", "critical", 5),
    ("FilterNone", None, 10),
    ("FilterInfo", "info", 90),
    ("FilterPage", "page", 120),
    ("FilterCritOld", "critical", 40),
]
IN_ORDER = ["FilterCritOld", "FilterCritNew", "FilterWarn", "FilterInfo", "FilterPage", "FilterNone"]


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    require_binary("prometheus-alertmanager", INSTALL)
    service = retry_if_port_taken(lambda: promstack.start_alertmanager(tmp_path_factory.mktemp("am")))
    now = datetime.now(UTC)
    body = [
        {
            "labels": {"alertname": name, **({"severity": severity} if severity else {})},
            "annotations": {"summary": f"{name} for the filter tests"},
            "startsAt": (now - timedelta(minutes=minutes)).isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
        }
        for name, severity, minutes in ALERTS
    ]
    httpx.post(f"{service.url}/api/v2/alerts", json=body, timeout=5).raise_for_status()
    # Silenced, it still sorts by its severity and age: state does not come first.
    silence = {
        "matchers": [{"name": "alertname", "value": "FilterCritNew", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "test",
        "comment": "silenced critical",
    }
    httpx.post(f"{service.url}/api/v2/silences", json=silence, timeout=5).raise_for_status()
    wait_until(
        lambda: {
            a["labels"]["alertname"]: a["status"]["state"]
            for a in httpx.get(f"{service.url}/api/v2/alerts", timeout=5).json()
        },
        10,
        "the posted alerts in Alertmanager, one silenced",
        until=lambda states: len(states) >= len(ALERTS) and states.get("FilterCritNew") == "suppressed",
    )
    yield service
    promstack.stop(service.pid, service.cmdline_marker)


@pytest.fixture
def env(alertmanager, isolated_home) -> dict[str, str]:
    return {"DITSOPS_ALERTMANAGER_URL": alertmanager.url}


def names(*args: str, env: dict[str, str]) -> list[str]:
    done = run_cli("alerts", *args, "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    return [alert["alertname"] for alert in json.loads(done.stdout)]


def test_alerts_are_sorted_by_severity_then_oldest_first(env):
    assert names(env=env) == IN_ORDER
    piped = run_cli("alerts", env={**env, "COLUMNS": "80"})
    shown = [line.split()[1] for line in piped.stdout.splitlines() if " Filter" in line]
    assert shown == IN_ORDER


def test_severity_filter_takes_one_several_or_a_comma_list(env):
    assert names("--severity", "critical", env=env) == ["FilterCritOld", "FilterCritNew"]
    assert names("-s", "warning,info", "-s", "PAGE", env=env) == ["FilterWarn", "FilterInfo", "FilterPage"]


def test_an_empty_severity_is_a_usage_error(env):
    done = run_cli("alerts", "--severity", "critical,", env=env)
    assert done.returncode == 2
    assert "--severity" in done.stderr and "Traceback" not in done.stderr


def add_silences(url: str, count: int) -> list[str]:
    now = datetime.now(UTC)
    ids = []
    for number in range(count):
        body = {
            "matchers": [{"name": "alertname", "value": f"PrefixTest{number}", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "test",
            "comment": "prefix test",
        }
        response = httpx.post(f"{url}/api/v2/silences", json=body, timeout=5)
        response.raise_for_status()
        ids.append(response.json()["silenceID"])
    return ids


def silence_state(url: str, silence_id: str) -> str:
    return httpx.get(f"{url}/api/v2/silence/{silence_id}", timeout=5).json()["status"]["state"]


def test_silence_expire_takes_a_unique_prefix_and_refuses_an_ambiguous_one(alertmanager, env):
    # 17 ids over 16 hexadecimal first characters: at least two share their first one.
    ids = add_silences(alertmanager.url, 17)
    shared, _ = Counter(i[0] for i in ids).most_common(1)[0]
    sharing = [i for i in ids if i.startswith(shared)]

    done = run_cli("silence", "expire", shared, "--yes", "--non-interactive", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ambiguous" in done.stderr and all(i in done.stderr for i in sharing)
    assert "Traceback" not in done.stderr
    assert all(silence_state(alertmanager.url, i) == "active" for i in ids)  # nothing expired

    every = [s["id"] for s in httpx.get(f"{alertmanager.url}/api/v2/silences", timeout=5).json()]
    target = ids[0]
    prefix = next(target[:n] for n in range(4, len(target)) if sum(i.startswith(target[:n]) for i in every) == 1)
    done = run_cli("silence", "expire", prefix, "--yes", "--non-interactive", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert target in done.stdout  # the preview and result name the whole id
    assert silence_state(alertmanager.url, target) == "expired"
    assert all(silence_state(alertmanager.url, i) == "active" for i in ids[1:])


def test_silence_expire_with_no_matching_id_is_a_usage_error(env):
    done = run_cli("silence", "expire", "zz-not-an-id", "--yes", "--non-interactive", env=env)
    assert done.returncode == 2
    assert "no silence id starts with 'zz-not-an-id'" in done.stderr


# -- the same rules in-process -----------------------------------------------------------


def silence(silence_id: str, state: str = "active"):
    from ditsops.clients.alertmanager import Matcher, Silence

    return Silence(silence_id, state, (Matcher("alertname", "X"),), None, None, "me", "why")


def test_a_prefix_picks_one_silence_or_says_which_it_could_be():
    from ditsops.base.errors import UsageError
    from ditsops.core.alerting import silence_by_prefix

    found = [silence("6c1a2d4e-0001"), silence("6c1a9999-0002", "expired"), silence("aa00"), silence("aa01")]
    assert silence_by_prefix(found, "6C1A2").id == "6c1a2d4e-0001"
    assert silence_by_prefix(found, "aa00").id == "aa00"
    # Unique among the silences in effect (what `silence list` shows): the expired one is no rival.
    assert silence_by_prefix(found, "6c1a").id == "6c1a2d4e-0001"
    assert silence_by_prefix(found, "6c1a9").id == "6c1a9999-0002"  # it alone matches: found, to say it ended
    with pytest.raises(UsageError, match=r"ambiguous, it matches 2 silences: aa00 .*; aa01 \(active"):
        silence_by_prefix(found, "aa0")
    with pytest.raises(UsageError, match="no silence id starts with 'ff'"):
        silence_by_prefix(found, "ff")
    with pytest.raises(UsageError):
        silence_by_prefix(found, " ")


def test_severities_parse_from_repeats_and_comma_lists():
    from ditsops.core.alerting import parse_severities

    assert parse_severities(["critical", "Warning,info", "critical"]) == ("critical", "warning", "info")
