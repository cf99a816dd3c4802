"""A pretend scheduler and kubelet: pods get a node, start after ``ready_delay`` seconds
and report status the way a real kubelet does (phase, conditions, containerStatuses).

What a container does is decided by its image (``behavior_for``):

* ``ready``       starts and becomes Ready (the default);
* ``never-ready`` runs but its readiness probe keeps failing (images containing ``unready``);
* ``crash``       exits with code 1 right after its startup logs, then CrashLoopBackOff with
                  ``restartCount`` increasing every ``crash_interval`` seconds (images
                  containing ``crash``);
* ``pull-error``  ErrImagePull / ImagePullBackOff, stays Pending (images containing
                  ``nonexistent``).

A pod that is not restarted (``restartPolicy`` Never or OnFailure: a Job's) runs to its
end: Ready after ``ready_delay``, then Succeeded ``ready_delay`` later; a ``crash`` one
ends Failed with exit code 1 at once (OnFailure does not restart it here, a simplification).

``Kubelet.image_rules`` (substring -> behaviour, checked first, in order) lets the sandbox
choose differently for a fault scenario.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
from dataclasses import dataclass
from typing import Any

from .events import EventRecorder
from .logs import LogBook
from .store import Obj, Store
from .strategy import rfc3339

BEHAVIORS = ("ready", "never-ready", "crash", "pull-error")
NODE_NAME = "sandbox-node-1"
NODE_IP = "10.0.0.10"
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "DSN")


def default_behavior(image: str) -> str:
    lowered = image.lower()
    if "crash" in lowered:
        return "crash"
    if "unready" in lowered or "never-ready" in lowered:
        return "never-ready"
    if "nonexistent" in lowered or "pull-error" in lowered:
        return "pull-error"
    return "ready"


@dataclass
class _Sim:
    next_at: float  # when this pod next needs attention (first: when it starts); inf when settled
    pod: tuple[str, str] = ("", "")  # namespace, name: to drop its logs once it is gone
    behavior: str = "ready"
    running: bool = False  # crash loop: the container is in a run (else backing off)
    completes: bool = False  # restartPolicy Never/OnFailure: the pod runs to Succeeded or Failed


def startup_lines(pod: Obj, container: dict[str, Any], when: float) -> list[str]:
    image = container.get("image", "")
    app, _, version = image.rsplit("/", 1)[-1].partition(":")
    ts = rfc3339(when)
    lines = [
        f'ts={ts} level=info msg="starting {app}" version={version or "latest"} '
        f"pod={pod['metadata']['name']} container={container['name']}"
    ]
    for env in container.get("env") or []:
        if "value" in env:
            shown = "<redacted>" if any(w in env["name"].upper() for w in _SECRET_WORDS) else env["value"]
            lines.append(f'ts={ts} level=info msg="config" {env["name"]}={shown}')
    for port in container.get("ports") or []:
        lines.append(f'ts={ts} level=info msg="listening" addr=:{port.get("containerPort")}')
    return lines


class Kubelet:
    def __init__(
        self, store: Store, recorder: EventRecorder, logs: LogBook, *, ready_delay: float, crash_interval: float = 2.0
    ) -> None:
        self.store, self.recorder, self.logs = store, recorder, logs
        self.ready_delay = ready_delay
        self.crash_interval = crash_interval
        self.image_rules: list[tuple[str, str]] = []
        self._sims: dict[str, _Sim] = {}
        self._ips = itertools.count(2)

    def behavior_for(self, image: str) -> str:
        for substring, behavior in self.image_rules:
            if substring in image:
                return behavior
        return default_behavior(image)

    def sync(self) -> None:
        now = self.store.clock()
        live: set[str] = set()
        for pod in self.store.objects("pods"):
            uid = pod["metadata"]["uid"]
            live.add(uid)
            sim = self._sims.get(uid)
            if sim is None:
                self._schedule(pod, now)
            elif now >= sim.next_at:
                self._advance(pod, sim, now)
        for uid in [u for u in self._sims if u not in live]:
            self.logs.forget_pod(*self._sims.pop(uid).pod)

    def next_due(self) -> float:
        """When some pod next changes by itself (starts, crashes): the control loop wakes then."""
        return min((s.next_at for s in self._sims.values()), default=math.inf)

    def pending_transitions(self) -> bool:
        """Whether some pod is still waiting to start (settling must wait for it)."""
        return any(s.next_at != math.inf and s.behavior == "ready" for s in self._sims.values())

    # ------------------------------------------------------------------ steps

    def _behavior(self, pod: Obj) -> str:
        found = [self.behavior_for(c.get("image", "")) for c in pod["spec"].get("containers", [])]
        for behavior in ("pull-error", "crash", "never-ready"):
            if behavior in found:
                return behavior
        return "ready"

    def _schedule(self, pod: Obj, now: float) -> None:
        sim = _Sim(
            next_at=now + self.ready_delay,
            behavior=self._behavior(pod),
            pod=(pod["metadata"]["namespace"], pod["metadata"]["name"]),
            completes=pod["spec"].get("restartPolicy") in ("Never", "OnFailure"),
        )
        self._sims[pod["metadata"]["uid"]] = sim
        pod = copy.deepcopy(pod)
        meta, spec = pod["metadata"], pod["spec"]
        spec.setdefault("nodeName", NODE_NAME)
        status = pod.setdefault("status", {})
        status.update({"phase": "Pending", "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "startTime": rfc3339(now)})
        status["containerStatuses"] = [self._waiting(c, "ContainerCreating") for c in spec["containers"]]
        self._set_conditions(pod, ready=False, now=now, scheduled=True)
        self.store.update("pods", pod, meta["namespace"], subresource="*")
        self.recorder.record(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {NODE_NAME}",
            "default-scheduler",
        )

    def _advance(self, pod: Obj, sim: _Sim, now: float) -> None:
        pod = copy.deepcopy(pod)
        containers = pod["spec"]["containers"]
        status = pod["status"]
        first_start = status.get("phase") == "Pending" and sim.behavior != "pull-error"
        if first_start:  # the pod sandbox exists now, so the pod has its IP
            n = next(self._ips)
            status["podIP"] = f"10.244.{n // 250}.{n % 250 + 2}"
            status["podIPs"] = [{"ip": status["podIP"]}]
            for c in containers:
                self._event(pod, c, "Normal", "Pulled", f'Container image "{c["image"]}" already present on machine')
                self._event(pod, c, "Normal", "Created", f"Created container: {c['name']}")
                self._event(pod, c, "Normal", "Started", f"Started container {c['name']}")
                self.logs.append(self._key(pod, c), startup_lines(pod, c, now), now)
        if sim.completes and (sim.behavior == "crash" or (sim.behavior == "ready" and not first_start)):
            code = 1 if sim.behavior == "crash" else 0
            status["phase"] = "Failed" if code else "Succeeded"
            status["containerStatuses"] = [self._finished(c, status, now, code) for c in containers]
            self._set_conditions(pod, ready=False, now=now, finished=True)
            sim.next_at = math.inf
        elif sim.behavior == "ready":
            status["phase"] = "Running"
            status["containerStatuses"] = [self._running(c, now, ready=True) for c in containers]
            self._set_conditions(pod, ready=True, now=now)
            sim.next_at = now + self.ready_delay if sim.completes else math.inf
        elif sim.behavior == "never-ready":
            status["phase"] = "Running"
            if first_start:
                status["containerStatuses"] = [self._running(c, now, ready=False) for c in containers]
                self._set_conditions(pod, ready=False, now=now)
            for c in containers:
                self._event(
                    pod, c, "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"
                )
            sim.next_at = now + 10.0
        elif sim.behavior == "pull-error":
            for c in containers:
                self._event(
                    pod,
                    c,
                    "Warning",
                    "Failed",
                    f'Failed to pull image "{c["image"]}": rpc error: '
                    f'code = NotFound desc = failed to pull and unpack image "{c["image"]}": not found',
                )
                self._event(pod, c, "Normal", "BackOff", f'Back-off pulling image "{c["image"]}"')
            status["containerStatuses"] = [
                self._waiting(c, "ImagePullBackOff", f'Back-off pulling image "{c["image"]}"') for c in containers
            ]
            self._set_conditions(pod, ready=False, now=now)
            sim.next_at = now + 10.0
        else:
            self._crash_step(pod, sim, now, first_start)
        self.store.update("pods", pod, pod["metadata"]["namespace"], subresource="status")

    def _crash_step(self, pod: Obj, sim: _Sim, now: float, first_start: bool) -> None:
        """Run (logs, then exit 1) and back off, alternately, each half of crash_interval."""
        status, containers = pod["status"], pod["spec"]["containers"]
        status["phase"] = "Running"
        previous = {s["name"]: s for s in status.get("containerStatuses") or []}
        if sim.running or first_start:  # the run ends: the process exits
            for c in containers:  # on a first start the startup lines were just written
                fatal = (
                    f'ts={rfc3339(now)} level=fatal msg="unrecoverable error, exiting" '
                    f'error="invalid configuration" exit_code=1'
                )
                self.logs.append(self._key(pod, c), [fatal], now)
                self._event(
                    pod,
                    c,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {c['name']} "
                    f"in pod {pod['metadata']['name']}_{pod['metadata']['namespace']}"
                    f"({pod['metadata']['uid']})",
                )
            restarts = {c["name"]: previous.get(c["name"], {}).get("restartCount", 0) for c in containers}
            status["containerStatuses"] = [self._crashed(pod, c, now, restarts[c["name"]]) for c in containers]
            sim.running = False
        else:  # the back-off is over: start again
            for c in containers:
                key = self._key(pod, c)
                self.logs.restart(key)
                self.logs.append(key, startup_lines(pod, c, now), now)
                self._event(pod, c, "Normal", "Started", f"Started container {c['name']}")
            status["containerStatuses"] = [
                {
                    **self._running(c, now, ready=False),
                    "restartCount": previous.get(c["name"], {}).get("restartCount", 0) + 1,
                    "lastState": previous.get(c["name"], {}).get("lastState", {}),
                }
                for c in containers
            ]
            sim.running = True
        self._set_conditions(pod, ready=False, now=now)
        sim.next_at = now + self.crash_interval / 2

    # ------------------------------------------------------------------ status shapes

    def _key(self, pod: Obj, container: dict[str, Any]) -> tuple[str, str, str]:
        return pod["metadata"]["namespace"], pod["metadata"]["name"], container["name"]

    def _event(self, pod: Obj, container: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.recorder.record(
            pod, type_, reason, message, "kubelet", host=NODE_NAME, field_path=f"spec.containers{{{container['name']}}}"
        )

    @staticmethod
    def _ids(container: dict[str, Any], now: float) -> dict[str, str]:
        digest = hashlib.sha256(container["image"].encode()).hexdigest()
        cid = hashlib.sha256(f"{container['name']}{now}".encode()).hexdigest()
        return {"imageID": f"{container['image'].split(':')[0]}@sha256:{digest}", "containerID": f"containerd://{cid}"}

    def _waiting(self, c: dict[str, Any], reason: str, message: str | None = None) -> dict[str, Any]:
        waiting = {"reason": reason, **({"message": message} if message else {})}
        return {
            "name": c["name"],
            "state": {"waiting": waiting},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": c["image"],
            "imageID": "",
            "started": False,
        }

    def _running(self, c: dict[str, Any], now: float, *, ready: bool) -> dict[str, Any]:
        return {
            "name": c["name"],
            "state": {"running": {"startedAt": rfc3339(now)}},
            "lastState": {},
            "ready": ready,
            "restartCount": 0,
            "image": c["image"],
            **self._ids(c, now),
            "started": True,
        }

    def _finished(self, c: dict[str, Any], status: dict[str, Any], now: float, code: int) -> dict[str, Any]:
        """A container that ran to its end (a Job's): terminated with its exit code."""
        started = next(
            (
                ((s.get("state") or {}).get("running") or {}).get("startedAt")
                for s in status.get("containerStatuses") or []
                if s.get("name") == c["name"]
            ),
            None,
        )
        ids = self._ids(c, now)
        terminated = {
            "exitCode": code,
            "reason": "Error" if code else "Completed",
            "startedAt": started or rfc3339(now),
            "finishedAt": rfc3339(now),
            "containerID": ids["containerID"],
        }
        return {
            "name": c["name"],
            "state": {"terminated": terminated},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": c["image"],
            **ids,
            "started": False,
        }

    def _crashed(self, pod: Obj, c: dict[str, Any], now: float, restarts: int) -> dict[str, Any]:
        meta = pod["metadata"]
        ids = self._ids(c, now)
        terminated = {
            "exitCode": 1,
            "reason": "Error",
            "startedAt": rfc3339(now),
            "finishedAt": rfc3339(now),
            "containerID": ids["containerID"],
        }
        return {
            "name": c["name"],
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {10 * 2 ** min(restarts, 5)}s restarting failed "
                    f"container={c['name']} pod={meta['name']}_{meta['namespace']}"
                    f"({meta['uid']})",
                }
            },
            "lastState": {"terminated": terminated},
            "ready": False,
            "restartCount": restarts,
            "image": c["image"],
            "imageID": ids["imageID"],
            "containerID": ids["containerID"],
            "started": False,
        }

    def _set_conditions(
        self, pod: Obj, *, ready: bool, now: float, scheduled: bool = False, finished: bool = False
    ) -> None:
        status = pod["status"]
        old = {c["type"]: c for c in status.get("conditions") or []}
        unready = [c["name"] for c in pod["spec"]["containers"]]
        running = status.get("phase") == "Running"

        def cond(type_: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
            value = "True" if ok else "False"
            prior = old.get(type_)
            since = prior["lastTransitionTime"] if prior and prior["status"] == value else rfc3339(now)
            out = {"type": type_, "status": value, "lastProbeTime": None, "lastTransitionTime": since}
            if not ok and reason:
                out.update(reason=reason, **({"message": message} if message else {}))
            return out

        not_ready = f"containers with unready status: [{' '.join(unready)}]"
        why, message = ("PodCompleted", None) if finished else ("ContainersNotReady", not_ready)
        status["conditions"] = [
            cond("PodReadyToStartContainers", running),
            cond("Initialized", True),
            cond("Ready", ready, why, message),
            cond("ContainersReady", ready, why, message),
            cond("PodScheduled", True),
        ]
