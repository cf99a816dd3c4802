"""Which requested faults the fix a production engineer would apply has ended.

The control file (simcontrol.py) says what was asked for and when; this decides what
still happens, from what the simulator sees of the world (kubefacts.DeploymentFacts and
PostgreSQL's lock waiters):

- service-down, memory-high and error-spike are a server process stuck in a bad state:
  a new pod template rolled out after the fault was requested (`kubectl rollout restart`,
  `ditsops k8s restart`, `set env`, a rollback: new ReplicaSet, new pods) replaces the
  processes and ends the fault until it is requested again.
- latency is saturation: it ends while dits-server has more ready replicas than when the
  fault began (any scale-out) and comes back when scaled in again.
- gc-stalled ends once a Job made from cronjob/dits-gc and created after the stall began
  completes (`kubectl create job --from=cronjob/dits-gc ...`); the GC run happens then.
- lock-contention, with a database, is real locks: it plays only while PostgreSQL
  sessions wait on a lock (the fault's load: one holder idle in transaction, six
  waiters), so terminating the holder's backend ends it. Without a database (unit tests)
  the control file alone plays it.

A request is told from the next by its time in the control file, so injecting a fault
again after a fix (even removed and re-added between two ticks) arms it afresh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ditsops.sandbox.kubefacts import DeploymentFacts, JobFact

RESTART_FAULTS = frozenset({"service-down", "memory-high", "error-spike"})


@dataclass
class _Request:
    """One request of a fault and what the world looked like when it began."""

    requested_at: float
    began: float  # when the fault began (its request time, or first sight of it)
    template_changes: int | None = None  # pod templates seen so far (None: no Kubernetes yet)
    serving: int | None = None  # ready replicas then
    known_jobs: frozenset[str] = frozenset()  # uids of the GC jobs there were then
    ended: bool = False  # a one-off fix (restart, GC run) happened: stays ended


class FixTracker:
    """Feed it every tick; `update` answers the requested faults still in effect."""

    def __init__(self, watches_database: bool) -> None:
        self.watches_database = watches_database
        self._requests: dict[str, _Request] = {}
        self.healed: frozenset[str] = frozenset()  # requested, but ended by a fix

    def update(
        self, requests: Mapping[str, float], facts: DeploymentFacts, lock_waiters: int | None, now: float
    ) -> frozenset[str]:
        for name in list(self._requests):
            if requests.get(name) != self._requests[name].requested_at:
                del self._requests[name]  # cleared, or requested anew: forget the old one
        applied = set()
        for name, requested_at in requests.items():
            request = self._requests.get(name)
            if request is None:
                began = requested_at if 0 < requested_at <= now else now
                request = self._requests[name] = _Request(requested_at, began)
            self._observe(request, facts)
            if not self._ended(name, request, facts, lock_waiters, now):
                applied.add(name)
        self.healed = frozenset(requests) - applied
        return frozenset(applied)

    @staticmethod
    def _observe(request: _Request, facts: DeploymentFacts) -> None:
        """Take the fault's starting point from the first live facts after it began."""
        if not facts.live or request.template_changes is not None:
            return
        request.template_changes = facts.template_changes
        request.serving = facts.serving_replicas
        request.known_jobs = frozenset(job.uid for job in facts.gc_jobs)

    def _ended(
        self, name: str, request: _Request, facts: DeploymentFacts, lock_waiters: int | None, now: float
    ) -> bool:
        if request.ended:
            return True
        if name in RESTART_FAULTS:
            request.ended = (
                facts.live
                and request.template_changes is not None
                and facts.template_changes > request.template_changes
                and facts.rolled_out
            )
        elif name == "gc-stalled":
            request.ended = any(job.done(now) for job in facts.gc_jobs if self._after(job, request))
        elif name == "latency":
            serving = facts.serving_replicas if facts.live else None
            return serving is not None and request.serving is not None and serving > request.serving
        elif name == "lock-contention" and self.watches_database:
            return not lock_waiters
        return request.ended

    @staticmethod
    def _after(job: JobFact, request: _Request) -> bool:
        """Created after the stall began: not among the jobs listed when it began, and (creation
        times have whole seconds) not created in an earlier second."""
        if request.template_changes is None or job.uid in request.known_jobs:
            return False
        return job.created is None or job.created >= math.floor(request.began)
