"""Faults played by the Dits simulator and by the sandbox Kubernetes API.

- The simulator's own faults (error-spike, latency, service-down, ...) are switched in its
  JSON control file (simcontrol.py); inject returns once the simulator applies it. A fix
  (restart, scale-out, GC job: simfixes.py) ends one while it stays requested; the
  simulator then lists it as healed, and `still_active` says it ended.
- `bad-deploy` ships dits-server 1.5.0 through the Kubernetes API exactly as
  `kubectl set image` + `kubectl annotate` would, and waits for the rollout. The simulator
  reads the deployed image, fails requests while 1.5.0 runs and writes ERROR lines into
  the pods' logs; rolling back (runbook, `ditsops k8s undo`, `kubectl rollout undo`) ends
  it. Clearing rolls back the same way `kubectl rollout undo` does, if nobody did.

The registry entries themselves live in faults.py; these functions get the sandbox state
and return or take the `ActiveFault` record.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ditsops.base.errors import DitsopsError
from ditsops.sandbox import kubesource, simcontrol
from ditsops.sandbox.components import KUBEAPI, SIMULATOR, http_ok, kube_client
from ditsops.sandbox.state import ActiveFault, Component, SandboxState, now_iso

VISIBLE_TIMEOUT = 8.0  # the simulator re-reads its control file 4 times a second
ROLLOUT_TIMEOUT = 60.0


def simulator(state: SandboxState) -> Component:
    component = state.component(SIMULATOR)
    if component is None or not component.details.get("control_file"):
        raise DitsopsError(
            "the sandbox has no Dits simulator", hint="restart it with: ditsops sandbox down && ditsops sandbox up"
        )
    if not component.is_alive():
        raise DitsopsError(
            "the sandbox's Dits simulator is not running; restart the sandbox with: "
            "ditsops sandbox down && ditsops sandbox up"
        )
    return component


def simulator_faults(component: Component, timeout: float = 1.0) -> dict[str, Any] | None:
    """The simulator's /sandbox/faults document, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{component.url}/sandbox/faults", timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_for_simulator(
    component: Component,
    predicate: Callable[[dict[str, Any] | None], bool],
    what: str,
    timeout: float = VISIBLE_TIMEOUT,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(simulator_faults(component)):
            return
        time.sleep(0.1)
    raise DitsopsError(
        f"the simulator did not show {what} within {timeout:.0f} s (log: {component.details.get('log_file')})"
    )


# --- the simulator's faults ------------------------------------------------------------


def control_fault(
    name: str,
) -> tuple[
    Callable[[SandboxState], ActiveFault],
    Callable[[SandboxState, ActiveFault], None],
    Callable[[SandboxState, ActiveFault], bool],
]:
    """inject, clear and still-active for the simulator fault `name`."""

    def inject(state: SandboxState) -> ActiveFault:
        component = simulator(state)
        control_file = Path(component.details["control_file"])
        simcontrol.set_fault(control_file, name)
        fault = ActiveFault(
            name=name,
            pid=component.pid,
            started_at=now_iso(),
            cmdline_marker=component.cmdline_marker,
            log_file=component.details.get("log_file"),
            details={
                "played_by": SIMULATOR,
                "control_file": str(control_file),
                "description": simcontrol.FAULT_DESCRIPTIONS.get(name, ""),
            },
        )
        try:
            if name == "service-down":  # the listener closes: nothing answers any more
                wait_for_simulator(component, lambda document: document is None, "its port closed")
            else:
                wait_for_simulator(
                    component, lambda document: bool(document) and name in document["faults"], f"fault {name} applied"
                )
        except BaseException:
            simcontrol.set_fault(control_file, name, active=False)
            raise
        return fault

    def clear(state: SandboxState, fault: ActiveFault) -> None:
        control_file = Path(fault.details.get("control_file") or "")
        if not control_file.parent.is_dir():
            return  # the simulator's directory is gone, and with it the fault
        simcontrol.set_fault(control_file, name, active=False)
        component = state.component(SIMULATOR)
        if component is not None and component.is_alive():
            if name == "service-down":
                wait_for_simulator(component, lambda document: document is not None, "its port open again")
            else:
                wait_for_simulator(
                    component,
                    lambda document: document is not None and name not in document["requested"],
                    f"fault {name} cleared",
                )

    def still_active(state: SandboxState, fault: ActiveFault) -> bool:
        """Requested and not ended by a fix (the simulator lists those as healed). A simulator
        that does not answer is taken at its word: service-down closes its port on purpose."""
        control_file = Path(fault.details.get("control_file") or "")
        try:
            if not (fault.is_alive() and name in simcontrol.read_faults(control_file)):
                return False
        except (OSError, ValueError):
            return False
        component = state.component(SIMULATOR)
        document = simulator_faults(component) if component is not None else None
        return document is None or name not in (document.get("healed") or [])

    return inject, clear, still_active


# --- bad-deploy ----------------------------------------------------------------------------


def inject_bad_deploy(state: SandboxState) -> ActiveFault:
    kube = state.component(KUBEAPI)
    if kube is None or not kube.is_alive():
        raise DitsopsError(
            "the sandbox's Kubernetes API is not running; restart the sandbox with: "
            "ditsops sandbox down && ditsops sandbox up"
        )
    sim = simulator(state)
    client = kube_client(state.components)
    try:
        before = client.get_deployment()
        previous_image = kubesource.container_image(before) or ""
        bad_image = kubesource.with_tag(previous_image, kubesource.BAD_DEPLOY_TAG)
        annotations = before["metadata"].get("annotations") or {}
        fault = ActiveFault(
            name="bad-deploy",
            pid=kube.pid,
            started_at=now_iso(),
            cmdline_marker=kube.cmdline_marker,
            log_file=sim.details.get("log_file"),
            details={
                "played_by": KUBEAPI,
                "deployment": f"{kubesource.NAMESPACE}/{kubesource.DEPLOYMENT}",
                "image": bad_image,
                "previous_image": previous_image,
                "previous_template": before["spec"]["template"],
                "previous_change_cause": annotations.get("kubernetes.io/change-cause"),
                "previous_revision": annotations.get("deployment.kubernetes.io/revision"),
            },
        )
        client.set_image(bad_image, kubesource.BAD_DEPLOY_CHANGE_CAUSE)
        after = client.wait_for_rollout(timeout=ROLLOUT_TIMEOUT)
    except kubesource.KubeError as exc:
        raise DitsopsError(f"bad-deploy: {exc.message}") from None
    fault.details["revision"] = (after["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
    wait_for_simulator(
        sim, lambda document: bool(document) and bool(document.get("image_bad")), f"the bad image {bad_image} deployed"
    )
    return fault


def clear_bad_deploy(state: SandboxState, fault: ActiveFault) -> None:
    """Roll back like `kubectl rollout undo`, unless someone already did."""
    kube = state.component(KUBEAPI)
    if kube is None or not kube.is_alive():
        return  # the API's objects lived in its memory; nothing is left to roll back
    client = kube_client(state.components)
    try:
        current = client.get_deployment()
        if kubesource.is_bad_image(kubesource.container_image(current)):
            template = fault.details.get("previous_template")
            if not template:
                raise DitsopsError(
                    "bad-deploy: no previous template recorded; roll back with: "
                    "ditsops --profile sandbox k8s undo dits-server"
                )
            client.restore_template(template, fault.details.get("previous_change_cause"))
        client.wait_for_rollout(timeout=ROLLOUT_TIMEOUT)
    except kubesource.KubeError as exc:
        raise DitsopsError(f"bad-deploy --clear: {exc.message}") from None
    sim = state.component(SIMULATOR)
    if sim is not None and sim.is_alive():
        wait_for_simulator(
            sim, lambda document: document is not None and not document.get("image_bad"), "a good image deployed again"
        )


def bad_deploy_active(state: SandboxState, fault: ActiveFault) -> bool:
    """True while the bad image is still what the deployment runs."""
    kube = state.component(KUBEAPI)
    if kube is None or not kube.is_alive() or not http_ok(f"{kube.url}/version"):
        return False
    try:
        return kubesource.is_bad_image(kubesource.container_image(kube_client(state.components).get_deployment()))
    except kubesource.KubeError:
        return False
