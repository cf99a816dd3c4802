"""The control loop: scheduler/kubelet, ReplicaSet, Deployment and Job controllers, run one
after another in a pass, on a background thread or one pass at a time from tests.

A pass holds the store lock throughout, so API requests see the state before or after a
pass, never half of one. Writes, and pods due to start or crash, wake the loop early (at most every ``min_gap``
seconds), so a rollout moves as fast as pods become ready rather than one tick per step.
"""

from __future__ import annotations

import logging
import threading
import time

from .deployment import DeploymentController
from .events import EventRecorder
from .job import JobController
from .kubelet import Kubelet
from .logs import LogBook
from .replicaset import ReplicaSetController
from .store import Store

log = logging.getLogger(__name__)


class Controller:
    def __init__(
        self,
        store: Store,
        logs: LogBook,
        *,
        ready_delay: float = 0.5,
        crash_interval: float = 2.0,
        interval: float = 0.1,
        min_gap: float = 0.02,
    ) -> None:
        self.store = store
        self.recorder = EventRecorder(store)
        self.kubelet = Kubelet(store, self.recorder, logs, ready_delay=ready_delay, crash_interval=crash_interval)
        self.replicasets = ReplicaSetController(store, self.recorder)
        self.deployments = DeploymentController(store, self.recorder)
        self.jobs = JobController(store, self.recorder)
        self.interval, self.min_gap = interval, min_gap
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        store.on_write.append(self._on_write)

    def _on_write(self) -> None:
        if not self._busy:  # our own writes are followed by another pass anyway
            self._wake.set()

    def reconcile_once(self) -> int:
        """One pass of every controller; returns how many writes it made."""
        with self.store:
            self._busy = True
            try:
                before = int(self.store.resource_version)
                self.kubelet.sync()
                self.replicasets.sync_all()
                self.deployments.sync_all()
                self.replicasets.sync_all()  # new ReplicaSets get their pods in the same pass
                self.jobs.sync_all()
                return int(self.store.resource_version) - before
            finally:
                self._busy = False

    def settle(self, timeout: float = 10.0) -> bool:
        """Run passes until one changes nothing and no pod is about to start; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reconcile_once() == 0 and not self.kubelet.pending_transitions():
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------ background thread

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kubeapi-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wrote = self.reconcile_once()
            except Exception:  # a bug must not kill the loop; the next pass retries
                log.exception("controller pass failed")
                wrote = 0
            if self._stop.is_set():
                break
            if wrote:
                time.sleep(self.min_gap)
                continue
            until_due = self.kubelet.next_due() - self.store.clock()
            self._wake.wait(min(self.interval, max(self.min_gap, until_due)))
            self._wake.clear()
