"""Leases on a destructive step's target: two operators see each other.

Kubernetes leases run against the in-memory API over HTTP (the official client underneath,
real kubectl as the witness); PostgreSQL advisory locks against the throwaway cluster. A
holder that dies is a real process killed with SIGKILL, never a simulation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ditsops.base.errors import ExitCode
from ditsops.clients.kube import KubeClient
from ditsops.core.config import Settings
from ditsops.core.lease import (
    Holder,
    KubeLease,
    LeaseHeld,
    LeaseLost,
    kube_lease,
    lease_free,
    lease_holder,
    now_utc,
)
from ditsops.core.pglease import advisory_key, application_name, postgres_lease
from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.helpers import require_binary, wait_until
from tests.kubeapi_fixtures import Kubectl

NS = "dits"
LEASE = "ditsops-dits-server"
RUN_A = "20261201T104107Z-high-error-rate-ab12cd34"
RUN_B = "20261201T104530Z-high-error-rate-ef56ab78"
RUN_C = "20261201T104612Z-high-latency-0011aa22"


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(ready_delay=0.05) as api:
        api.ensure_namespace(NS)
        yield api


@pytest.fixture
def kubeconfig(server: KubeAPIServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def client(kubeconfig: Path) -> Iterator[KubeClient]:
    kube = KubeClient.connect(kubeconfig=str(kubeconfig))
    yield kube
    kube.close()


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    binary = require_binary("kubectl", "apt-get install kubectl (or download v1.32 from dl.k8s.io)")
    return Kubectl(binary, kubeconfig, tmp_path / "kube-cache")


@pytest.fixture
def leases() -> Iterator[list[Any]]:
    """Every lease a test makes is released afterwards, so no renewer outlives its server."""
    made: list[Any] = []
    yield made
    for lease in made:
        lease.release()


def lease_for(
    client: KubeClient, leases: list[Any], who: str, run: str, step: str = "rollback", **options: Any
) -> KubeLease:
    lease = kube_lease(client, NS, "dits-server", who, run, step, **options)
    leases.append(lease)
    return lease


def spawn_holder(code: str) -> subprocess.Popen[str]:
    """A separate ditsops process that takes a lease, says "held" and waits to be killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = process.stdout.readline() if process.stdout else ""
    if line.strip() != "held":
        process.kill()
        raise AssertionError(f"the holder process did not take its lease: {line!r} {process.stderr.read()}")
    return process


def kill_9(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


# -- Kubernetes --------------------------------------------------------------------------


def test_acquire_creates_a_lease_kubectl_shows_with_its_holder(client, kubectl, server, leases):
    lease = lease_for(client, leases, "ana@laptop", RUN_A)
    lease.acquire()
    assert lease.held and not lease.forced

    table = kubectl("get", "lease", "-n", NS).stdout
    assert table.split("\n")[0].split() == ["NAME", "HOLDER", "AGE"]
    assert LEASE in table and "ana@laptop" in table

    shown = json.loads(kubectl("get", "lease", LEASE, "-n", NS, "-o", "json").stdout)
    spec, meta = shown["spec"], shown["metadata"]
    assert spec["holderIdentity"] == "ana@laptop" and spec["leaseDurationSeconds"] == 30
    assert spec["leaseTransitions"] == 0
    for field in ("acquireTime", "renewTime"):  # MicroTime: RFC 3339 with microseconds
        datetime.strptime(spec[field], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert meta["annotations"] == {"ditsops.dev/run": RUN_A, "ditsops.dev/step": "rollback"}
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "ditsops"}
    yaml_text = kubectl("get", "lease", LEASE, "-n", NS, "-o", "yaml").stdout
    assert "kind: Lease" in yaml_text and f"ditsops.dev/run: {RUN_A}" in yaml_text

    # kubectl reads leases as JSON (no typed generator sends protobuf for them).
    verbose = kubectl("get", "lease", LEASE, "-n", NS, "-o", "yaml", "-v=9").stderr
    assert "vnd.kubernetes.protobuf" not in verbose


def test_second_run_is_refused_naming_the_holder_and_release_frees_it(client, kubectl, server, leases):
    first = lease_for(client, leases, "ana@laptop", RUN_A, "rollback")
    first.acquire()
    second = lease_for(client, leases, "bob@desk", RUN_B, "restart")

    with pytest.raises(LeaseHeld) as refused:
        second.acquire()
    error = refused.value
    assert error.exit_code == ExitCode.REFUSED
    assert (error.holder.who, error.holder.run_id, error.holder.step) == ("ana@laptop", RUN_A, "rollback")
    assert "ana@laptop" in error.message and RUN_A in error.message and "step rollback" in error.message
    assert "expires in" in error.message and "UTC" in error.message
    assert not second.held
    assert server.get("leases", NS, LEASE)["spec"]["holderIdentity"] == "ana@laptop"  # untouched

    first.release()
    assert "No resources found" in kubectl("get", "lease", "-n", NS).stderr
    first.release()  # idempotent
    second.acquire()
    assert server.get("leases", NS, LEASE)["spec"]["holderIdentity"] == "bob@desk"


def test_the_same_run_takes_its_own_lease_again(client, server, leases):
    lease_for(client, leases, "ana@laptop", RUN_A, "rollback", renew=False).acquire()
    again = lease_for(client, leases, "ana@laptop", RUN_A, "restart")
    again.acquire()
    stored = server.get("leases", NS, LEASE)
    assert stored["metadata"]["annotations"]["ditsops.dev/step"] == "restart"
    assert stored["spec"]["leaseTransitions"] == 0  # the holder did not change


def test_a_killed_holder_expires_and_is_taken_over(client, kubeconfig, server, leases):
    holder = spawn_holder(f"""
        from ditsops.clients.kube import KubeClient
        from ditsops.core.lease import kube_lease
        client = KubeClient.connect(kubeconfig={str(kubeconfig)!r})
        kube_lease(client, {NS!r}, "dits-server", "ana@laptop", {RUN_A!r}, "rollback", duration=1).acquire()
        print("held", flush=True)
        import time
        time.sleep(600)
    """)
    kill_9(holder)
    taken = server.get("leases", NS, LEASE)
    assert taken["spec"]["holderIdentity"] == "ana@laptop"

    # Nothing renews it now: it runs out leaseDurationSeconds after its last renewTime.
    wait_until(lambda: lease_free(server.get("leases", NS, LEASE), now_utc()), timeout=10)
    successor = lease_for(client, leases, "bob@desk", RUN_B, "restart")
    successor.acquire()
    assert not successor.forced  # an expired lease is free, not forced
    stored = server.get("leases", NS, LEASE)
    assert stored["spec"]["holderIdentity"] == "bob@desk"
    assert stored["spec"]["leaseTransitions"] == 1
    assert stored["metadata"]["uid"] == taken["metadata"]["uid"]  # taken over by update, not recreated
    assert stored["spec"]["acquireTime"] > taken["spec"]["acquireTime"]
    assert stored["metadata"]["annotations"]["ditsops.dev/run"] == RUN_B


def test_renewal_keeps_a_held_lease_past_its_duration(client, server, leases):
    lease = lease_for(client, leases, "ana@laptop", RUN_A, duration=1)  # renewed every 1/3 s
    lease.acquire()
    acquired = lease_holder(server.get("leases", NS, LEASE)).since

    def renewed_past_duration() -> bool:
        renewed = lease_holder(server.get("leases", NS, LEASE)).renewed
        return renewed is not None and renewed - acquired > timedelta(seconds=2)

    wait_until(renewed_past_duration, timeout=10)
    assert not lease_free(server.get("leases", NS, LEASE), now_utc())
    with pytest.raises(LeaseHeld):
        lease_for(client, leases, "bob@desk", RUN_B).acquire()
    lease.check()  # still ours


def test_without_renewal_the_lease_expires(client, server, leases):
    lease = lease_for(client, leases, "ana@laptop", RUN_A, duration=1, renew=False)
    lease.acquire()
    wait_until(lambda: lease_free(server.get("leases", NS, LEASE), now_utc()), timeout=10)
    lease_for(client, leases, "bob@desk", RUN_B).acquire()
    with pytest.raises(LeaseLost) as lost:
        lease.check()
    assert lost.value.holder is not None and lost.value.holder.who == "bob@desk"
    lease.release()  # never raises on a lost lease, and leaves bob's alone
    assert server.get("leases", NS, LEASE)["spec"]["holderIdentity"] == "bob@desk"


def test_a_conflict_during_takeover_rereads_and_names_the_winner(client, kubeconfig, server, leases):
    lease_for(client, leases, "ana@laptop", RUN_A, duration=1, renew=False).acquire()
    wait_until(lambda: lease_free(server.get("leases", NS, LEASE), now_utc()), timeout=10)

    loser = lease_for(client, leases, "bob@desk", RUN_B, "restart")
    other_operator = KubeClient.connect(kubeconfig=str(kubeconfig))  # a connection of its own
    winner = lease_for(other_operator, leases, "cy@box", RUN_C, "scale")
    writes: list[int] = []
    real_replace = loser._client.replace

    def replace_after_the_winner(*args: Any, **kwargs: Any) -> Any:
        if not writes:  # between bob's read and bob's write, cy takes the expired lease
            winner.acquire()
        writes.append(1)
        return real_replace(*args, **kwargs)  # carries the stale resourceVersion: 409 from the server

    loser._client.replace = replace_after_the_winner  # type: ignore[method-assign]
    with pytest.raises(LeaseHeld) as refused:
        loser.acquire()
    assert refused.value.holder.who == "cy@box" and refused.value.holder.run_id == RUN_C
    assert writes == [1]  # one write, refused; the re-read found a live holder and stopped there
    assert server.get("leases", NS, LEASE)["spec"]["holderIdentity"] == "cy@box"


def test_the_api_refuses_a_stale_resource_version_with_409(client, server, leases):
    from ditsops.clients.kube import Conflict

    lease_for(client, leases, "ana@laptop", RUN_A, renew=False).acquire()
    read = client.get("leases", LEASE)
    client.replace("leases", LEASE, {**read, "spec": {**read["spec"], "holderIdentity": "x@y"}})
    with pytest.raises(Conflict, match="the object has been modified"):
        client.replace("leases", LEASE, {**read, "spec": {**read["spec"], "holderIdentity": "z@w"}})
    with pytest.raises(Conflict, match="Precondition failed"):
        client.delete("leases", LEASE, preconditions={"resourceVersion": read["metadata"]["resourceVersion"]})


def test_force_takes_over_a_live_lease_and_the_old_holder_learns_it(client, server, leases):
    first = lease_for(client, leases, "ana@laptop", RUN_A, "rollback")
    first.acquire()
    second = lease_for(client, leases, "bob@desk", RUN_B, "restart")
    second.acquire(force=True)
    assert second.forced and second.displaced is not None and second.displaced.who == "ana@laptop"
    with pytest.raises(LeaseLost, match="someone else took it over"):
        first.check()
    first.release()
    assert server.get("leases", NS, LEASE)["spec"]["holderIdentity"] == "bob@desk"


def test_holder_describe():
    since = datetime(2026, 12, 1, 10, 41, 7, tzinfo=UTC)
    holder = Holder("ana@laptop", RUN_A, "rollback", since, since, since + timedelta(seconds=30))
    assert holder.describe(since + timedelta(seconds=5)) == (
        f"ana@laptop, run {RUN_A}, step rollback, since 10:41:07 UTC (expires in 25s)"
    )
    assert holder.describe(since + timedelta(seconds=40)).endswith("(expired 10s ago)")
    assert "since 2026-12-01 10:41:07 UTC" in holder.describe(since + timedelta(days=1))


# -- PostgreSQL --------------------------------------------------------------------------


def test_application_name_fits_and_keeps_user_and_host():
    assert application_name("ana@laptop", "r1", "undo") == "ditsops lease ana@laptop run=r1 step=undo"
    # Too long for 63 bytes: the run id keeps its date and its random suffix, not the runbook name.
    assert application_name("ana@laptop", RUN_A, "rollback") == (
        "ditsops lease ana@laptop run=20261201T10~ab12cd34 step=rollback"
    )
    tight = application_name("root@ci-runner-7f9d8c6b5-x2x9q", RUN_A, "terminate-idle-transactions")
    assert tight == "ditsops lease root@ci-runner-7f9d8c6b5-x2x9q run=ab12cd34 step="
    hostile = application_name("é vil@host", "run with spaces", "step\nnext")
    assert hostile == "ditsops lease ?_vil@host run=run_with_spaces step=step?next"
    for name in (tight, hostile, application_name("u" * 100, RUN_A, "s" * 100)):
        assert len(name.encode()) <= 63
    assert advisory_key("dits") == advisory_key("dits") != advisory_key("other")
    assert -(2**63) <= advisory_key("dits") < 2**63


def test_second_acquire_names_the_holder_from_pg_stat_activity(pg_dsn):
    first = postgres_lease(pg_dsn, "ana@laptop", RUN_A, "terminate-blocker")
    second = postgres_lease(Settings(dsn=pg_dsn), "bob@desk", RUN_B, "terminate-idle")
    try:
        first.acquire()
        assert first.held and not first.forced
        with pytest.raises(LeaseHeld) as refused:
            second.acquire()
        holder = refused.value.holder
        assert holder.who == "ana@laptop" and holder.step == "terminate-blocker"
        assert holder.run_id == "ab12cd34"  # the run id's random suffix: all that fits beside the rest
        assert holder.since is not None and abs(holder.since - now_utc()) < timedelta(minutes=1)  # backend_start
        assert holder.expires is None and "expires" not in refused.value.message
        assert refused.value.exit_code == ExitCode.REFUSED
        assert str(first.backend_pid) in (refused.value.hint or "")
        assert not second.held

        first.release()
        first.release()  # idempotent
        second.acquire()
        assert second.held
        second.check()
    finally:
        first.release()
        second.release()


def test_force_goes_on_without_the_lock_and_says_so(pg_dsn):
    first = postgres_lease(pg_dsn, "ana@laptop", RUN_A, "terminate-blocker")
    second = postgres_lease(pg_dsn, "bob@desk", RUN_B, "terminate-idle")
    try:
        first.acquire()
        second.acquire(force=True)
        assert second.forced and not second.held
        assert second.displaced is not None and second.displaced.who == "ana@laptop"
        second.check()  # a forced run goes on by choice
        assert first.held  # PostgreSQL cannot take a session lock away
    finally:
        first.release()
        second.release()


def test_a_killed_holder_releases_the_advisory_lock(pg_dsn):
    holder = spawn_holder(f"""
        from ditsops.core.pglease import postgres_lease
        lease = postgres_lease({pg_dsn!r}, "ana@laptop", {RUN_A!r}, "terminate-blocker")
        lease.acquire()
        print("held", flush=True)
        import time
        time.sleep(600)
    """)
    successor = postgres_lease(pg_dsn, "bob@desk", RUN_B, "terminate-idle")
    try:
        with pytest.raises(LeaseHeld):
            successor.acquire()
        kill_9(holder)

        def acquired() -> bool:  # the server drops the dead session, and its lock, on the socket close
            try:
                successor.acquire()
            except LeaseHeld:
                return False
            return True

        wait_until(acquired, timeout=10, interval=0.05)
        assert successor.held and not successor.forced
    finally:
        successor.release()
        if holder.poll() is None:
            holder.kill()


# -- the in-memory API's leases ----------------------------------------------------------


def test_kubectl_discovers_patches_and_deletes_leases(kubectl, server):
    resources = kubectl("api-resources", "--api-group=coordination.k8s.io").stdout
    assert resources.split("\n")[1].split() == ["leases", "coordination.k8s.io/v1", "true", "Lease"]
    server.create("leases", {"metadata": {"name": "other"}, "spec": {"holderIdentity": "x@y"}}, NS)
    kubectl("patch", "lease", "other", "-n", NS, "-p", '{"spec":{"holderIdentity":"z@w"}}')
    assert server.get("leases", NS, "other")["spec"]["holderIdentity"] == "z@w"
    kubectl("delete", "lease", "other", "-n", NS)
    assert server.list("leases", NS) == []


def test_the_api_keeps_micro_time_and_validates_leases(client):
    from ditsops.base.errors import TargetError

    made = client.create(
        "leases",
        {
            "metadata": {"name": "times"},
            "spec": {
                "holderIdentity": "a@b",
                "acquireTime": "2026-12-01T10:41:07Z",
                "renewTime": "2026-12-01T10:41:07.5+00:00",
            },
        },
    )
    assert made["spec"]["acquireTime"] == "2026-12-01T10:41:07.000000Z"
    assert made["spec"]["renewTime"] == "2026-12-01T10:41:07.500000+00:00"
    with pytest.raises(TargetError, match="leaseDurationSeconds"):
        client.create("leases", {"metadata": {"name": "bad"}, "spec": {"leaseDurationSeconds": 0}})
    with pytest.raises(TargetError, match="parsing time"):
        client.create("leases", {"metadata": {"name": "bad"}, "spec": {"renewTime": "yesterday"}})
