"""Who is acting now, checked against the live Kubernetes lease: a run of the incident that
the store has no end of is `live` while its Lease names it and is renewed, `gone` once the
lease is released or taken over (a run killed with -9 stops renewing it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ditsops.core.lease import RUN_KEY, micro_time
from ditsops.core.record import genesis_hash, line_hash
from ditsops.incidents.registry import join_alert
from ditsops.sandbox.kubeapi import KubeAPIServer
from ditsops.store.connection import open_session
from tests.cli import run_cli
from tests.kubeapi_fixtures import kubeapi, kubeconfig, seeded  # noqa: F401 - fixtures
from tests.store_fixtures import store_db  # noqa: F401 - a fixture

TARGET = 'deployment "dits-server" in namespace dits'


def a_run_holding_the_lease(state: Path, run_id: str, incident: str) -> None:
    """A record cut after its lease line: the run took the lease and was never ended."""
    now = datetime.now(UTC).isoformat()
    entries: list[dict[str, Any]] = [
        {
            "ts": now,
            "event": "run-start",
            "run": run_id,
            "runbook": "high-error-rate",
            "by": "ana",
            "source": "/r.yaml",
            "incident": incident,
        },
        {"ts": now, "event": "lease", "step": "rollback", "target": TARGET, "run": run_id, "by": "ana"},
    ]
    lines, prev = [], genesis_hash(run_id)
    for entry in entries:
        entry["prev"] = prev
        text = json.dumps(entry)
        lines.append(text)
        prev = line_hash(text.encode())
    runs = state / "ditsops" / "runs"
    runs.mkdir(parents=True, mode=0o700)
    (runs / f"{run_id}.jsonl").write_text("\n".join(lines) + "\n")


def lease(run_id: str, renewed: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "ditsops-dits-server", "namespace": "dits", "annotations": {RUN_KEY: run_id}},
        "spec": {"holderIdentity": "ana", "leaseDurationSeconds": 30, "renewTime": micro_time(renewed)},
    }


def test_an_acting_run_is_live_while_its_lease_is_and_gone_after(
    seeded: KubeAPIServer,  # noqa: F811 - the fixtures imported above
    kubeconfig: Path,  # noqa: F811
    store_db: str,  # noqa: F811
    tmp_path: Path,
    isolated_home: Any,
) -> None:
    session = open_session(store_db, frozenset())
    try:
        incident, _ = join_alert(session, "LeaseDrill", {"job": str(tmp_path)}, None, "ana", {"run": "-"})
    finally:
        session.close()
    run_id = f"20261207T000000Z-high-error-rate-{incident[4:]}00"
    a_run_holding_the_lease(isolated_home.state, run_id, incident)
    env = {"DITSOPS_RECORD_STORE": store_db, "KUBECONFIG": str(kubeconfig)}
    assert run_cli("store", "sync", "--all", env=env).returncode == 0

    def acting() -> list[dict[str, Any]]:
        done = run_cli("incident", "list", "-o", "json", env=env)
        assert done.returncode == 0, done.stderr
        (found,) = [i for i in json.loads(done.stdout) if i["id"] == incident]
        return found["acting"]

    seeded.create("leases", lease(run_id, datetime.now(UTC)), namespace="dits")
    assert acting() == [{"who": "ana", "run": run_id, "runbook": "high-error-rate", "holding": TARGET, "lease": "live"}]
    listing = run_cli("incident", "list", env={**env, "COLUMNS": "80"}).stdout
    assert "holding dits-server, lease live" in listing and all(len(line) <= 80 for line in listing.splitlines())

    # released or expired (a run killed with -9 stops renewing it): gone, and the next step is no longer to wait
    with seeded.store:
        seeded.store.delete("leases", "dits", "ditsops-dits-server")
    assert acting()[0]["lease"] == "gone"
    shown = json.loads(run_cli("incident", "show", incident, "-o", "json", env=env).stdout)
    assert not shown["next_step"].startswith("coordinate with")

    without = {k: v for k, v in env.items() if k != "KUBECONFIG"}
    done = run_cli("incident", "list", "-o", "json", env=without)
    (found,) = [i for i in json.loads(done.stdout) if i["id"] == incident]
    assert found["acting"][0]["lease"] == "unchecked"  # no Kubernetes configured: said, not guessed
