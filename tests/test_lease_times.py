"""A Lease written by someone else with times that cannot be true (renewTime in the year
9999 or 2099, a duration of a century): counted as expired and suspicious, said so on
screen and in the record, never an internal error, and --ignore-lease still works."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from ditsops.core.lease import lease_free, lease_holder
from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli

NS = "dits"
LEASE = "ditsops-dits-server"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def lease(renew: str | None, duration: object = 30, acquire: str | None = None) -> dict:
    spec: dict = {"holderIdentity": "mallory@evil", "leaseDurationSeconds": duration}
    if renew is not None:
        spec["renewTime"] = renew
    if acquire is not None:
        spec["acquireTime"] = acquire
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": NS, "annotations": {"ditsops.dev/run": "r1"}},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("renew", "duration", "why"),
    [
        ("9999-12-31T23:59:59.999999Z", 30, "renewTime 9999-12-31 23:59:59 UTC is in the future"),
        ("2099-01-01T00:00:00.000000Z", 30, "renewTime 2099-01-01 00:00:00 UTC is in the future"),
        ("2026-12-07T12:00:00.000000Z", 10**12, "leaseDurationSeconds 1000000000000 is outside 1..3600"),
        ("2026-12-07T12:00:00.000000Z", -5, "leaseDurationSeconds -5 is outside 1..3600"),
        ("0001-01-01T00:00:00+05:00", 30, "renewTime is not a time"),
    ],
    ids=["year-9999", "year-2099", "duration-huge", "duration-negative", "before-year-1"],
)
def test_unbelievable_times_count_as_expired_and_say_why(renew, duration, why):
    record = lease(renew, duration)
    holder = lease_holder(record, NOW)
    assert holder.suspicious == why
    assert lease_free(record, NOW)
    shown = holder.describe(NOW)
    assert f"times not believable: {why}; treated as expired" in shown and "mallory@evil" in shown


def test_believable_times_still_hold():
    record = lease((NOW - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), 30)
    assert not lease_free(record, NOW)
    assert "expires in 25s" in lease_holder(record, NOW).describe(NOW)


@pytest.fixture
def env(seeded: KubeAPIServer, kubeconfig, isolated_home) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "COLUMNS": "200", "USER": "oncall-ana"}


@pytest.mark.parametrize("ignore", [False, True], ids=["plain", "ignore-lease"])
@pytest.mark.parametrize("renew", ["9999-12-31T23:59:59.999999Z", "2099-01-01T00:00:00.000000Z"], ids=["9999", "2099"])
def test_an_action_goes_on_over_a_lease_from_the_future_and_says_so(seeded, env, isolated_home, renew, ignore):
    seeded.create("leases", lease(renew), NS)
    flags = ["--ignore-lease"] if ignore else []
    done = run_cli(*flags, "k8s", "scale", "dits-server", "--replicas", "4", "--yes", env=env, timeout=60)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "internal error" not in said and "Traceback" not in said
    assert "had unbelievable times, taken over" in " ".join(said.split())
    assert seeded.get("deployments", NS, "dits-server")["spec"]["replicas"] == 4
    runs = list((isolated_home.state / "ditsops" / "runs").glob("*.jsonl"))
    assert any('"event": "lease-suspicious"' in p.read_text() for p in runs)
    report = run_cli("runbook", "report", env=env)
    assert "had unbelievable times, taken over: mallory@evil" in report.stdout
