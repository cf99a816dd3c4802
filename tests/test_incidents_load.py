"""Load incidents walked with their runbooks' defaults: scaling out ends the latency
saturation; a traffic spike and a large upload need a person, and the runbook says so
(exit 3, "needs ..."), on a terminal the same as without one. In the worker's shared sandbox.
"""

from __future__ import annotations

from tests.cli import run_cli
from tests.incidents import (
    assert_needs_a_human,
    assert_resolved,
    end_incident,
    start_incident,
    walk_on_a_terminal,
    walk_with_yes,
)
from tests.sandboxfixtures import Sandbox


def test_latency_is_resolved_by_scaling_out(sandbox: Sandbox):
    alert = start_incident("latency", sandbox.prometheus)
    try:
        walk = walk_with_yes(alert)
        scale = walk.document["by_id"]["scale-out"]
        assert scale["status"] == "applied", scale["summary"]
        assert_resolved(walk, sandbox.prometheus)
    finally:
        end_incident("latency", sandbox.prometheus)
        # The sandbox is shared: scaled back in as the next incident expects to find it.
        back = run_cli("--profile", "sandbox", "k8s", "scale", "dits-server", "--replicas", "3", "--yes")
        assert back.returncode == 0, back.stdout + back.stderr


def test_large_upload_needs_its_owner(sandbox: Sandbox):
    alert = start_incident("large-upload", sandbox.prometheus)
    try:
        walk = walk_with_yes(alert)
        assert_needs_a_human(walk, "the uploader contacted, or the upload left to finish")
        # The note sends you to the push's log line: it is there, naming repository and user.
        pushes = [entry["line"] for entry in walk.document["by_id"]["pushes"]["result"]["lines"]]
        assert any("Push commit started repo_id=" in line and " user_id=user-" in line for line in pushes), pushes
        code, screen = walk_on_a_terminal(alert, "y")
        assert code == 3 and "not resolved:" in screen and "needs the uploader contacted" in screen, screen[-2000:]
    finally:
        end_incident("large-upload", sandbox.prometheus)


def test_traffic_spike_needs_its_source_found(sandbox: Sandbox):
    alert = start_incident("traffic-spike", sandbox.prometheus)
    try:
        walk = walk_with_yes(alert)
        assert_needs_a_human(walk, "the traffic's source identified")
    finally:
        end_incident("traffic-spike", sandbox.prometheus)
