"""Server incidents walked with their runbooks' defaults: a restart ends service-down, the
memory leak and the error spike; a rollback ends the bad deploy. Also through a real
terminal: `y` gives the same verdict as --yes (and the verify wait shows its value while
it waits), `n` gives "not resolved", exit 3. One sandbox for the module, in file order.
"""

from __future__ import annotations

from tests.incidents import (
    assert_resolved,
    end_incident,
    start_incident,
    walk_on_a_terminal,
    walk_with_yes,
)
from tests.sandboxfixtures import Sandbox, resolved_within


def test_memory_high_is_resolved_by_a_restart(sandbox: Sandbox):
    alert = start_incident("memory-high", sandbox.prometheus)
    try:
        walk = walk_with_yes(alert)
        steps = walk.document["by_id"]
        assert steps["restart"]["status"] == "applied" and steps["scale-out"]["status"] == "skipped"
        assert_resolved(walk, sandbox.prometheus)
    finally:
        end_incident("memory-high", sandbox.prometheus)


def test_declining_the_restart_on_a_terminal_is_not_resolved(sandbox: Sandbox):
    alert = start_incident("memory-high", sandbox.prometheus)
    try:
        code, screen = walk_on_a_terminal(alert, "n")
        assert code == 3, screen[-2000:]
        assert "not resolved: fix declined: restart" in screen
        assert "memory-used failing at" in screen
    finally:
        end_incident("memory-high", sandbox.prometheus)


def test_error_spike_on_a_terminal_answering_y_is_resolved_by_a_restart(sandbox: Sandbox):
    alert = start_incident("error-spike", sandbox.prometheus)
    try:
        code, screen = walk_on_a_terminal(alert, "y")
        assert code == 0, screen[-3000:]
        assert "resolved: verified by recovered" in screen
        # While the verify step waited, the terminal showed the latest value and time left.
        assert "error-rate failing:" in screen and "left" in screen
        resolved_within(sandbox.prometheus, {alert}, 120)
    finally:
        end_incident("error-spike", sandbox.prometheus)


def test_bad_deploy_is_resolved_by_a_rollback(sandbox: Sandbox):
    alert = start_incident("bad-deploy", sandbox.prometheus)
    try:
        walk = walk_with_yes(alert)
        steps = walk.document["by_id"]
        assert steps["rollback"]["status"] == "applied" and steps["restart"]["status"] == "skipped"
        assert_resolved(walk, sandbox.prometheus)
    finally:
        end_incident("bad-deploy", sandbox.prometheus)


# Last: while the server is down Prometheus has no samples, which skews rate baselines
# (the memory runbook's traffic ratio) for a while after.
def test_service_down_is_resolved_by_a_restart(sandbox: Sandbox):
    alert = start_incident("service-down", sandbox.prometheus)
    try:
        walk = walk_with_yes(alert)
        assert walk.document["by_id"]["restart"]["status"] == "applied"
        assert_resolved(walk, sandbox.prometheus)
    finally:
        end_incident("service-down", sandbox.prometheus)
