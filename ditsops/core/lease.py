"""Leases on the target of a destructive step, so that two operators see each other.

A destructive step holds a lease on its target from preview to result: a second operator
about to act on the same target is told who is already at it (user@host, run, step, since
when) instead of silently racing them. Two kinds:

* Kubernetes: a ``coordination.k8s.io/v1`` Lease ``ditsops-<deployment>`` in the
  deployment's namespace, with client-go leader election's record (holderIdentity,
  leaseDurationSeconds, acquireTime, renewTime, leaseTransitions) and the run and step in
  annotations. A daemon thread renews it every duration/3 while held, so a long
  confirmation prompt keeps it; a ditsops killed with -9 stops renewing and the lease
  expires after its duration. Writes carry the resourceVersion read, so of two operators
  taking over the same expired lease exactly one wins (the other gets 409 and re-reads).
* PostgreSQL: a session advisory lock on a dedicated connection (``pglease.py``).

Expiry is judged from the record's renewTime against this machine's clock (client-go
judges from when it saw the record change, which needs a watch a short CLI run does not
have), so operators' clocks must agree to within a fraction of the duration (NTP).
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ditsops.base.errors import DitsopsError, ExitCode, TargetError
from ditsops.base.threads import start_background
from ditsops.clients.kube import Conflict, NotFound
from ditsops.core.leaseholder import (  # re-exported: callers import these from here
    MAX_DURATION as MAX_DURATION,
)
from ditsops.core.leaseholder import RUN_KEY as RUN_KEY
from ditsops.core.leaseholder import STEP_KEY as STEP_KEY
from ditsops.core.leaseholder import Holder as Holder
from ditsops.core.leaseholder import lease_free as lease_free
from ditsops.core.leaseholder import lease_holder as lease_holder
from ditsops.core.leaseholder import micro_time as micro_time
from ditsops.core.leaseholder import now_utc as now_utc
from ditsops.core.leaseholder import parse_time as parse_time

if TYPE_CHECKING:
    from ditsops.clients.kube import KubeClient

MANAGED_BY = {"app.kubernetes.io/managed-by": "ditsops"}  # label, for `kubectl get lease -l ...`
DEFAULT_DURATION = 30.0
_ATTEMPTS = 3  # reads and writes per acquire before giving up on a lease that keeps changing


class LeaseHeld(DitsopsError):
    """Someone else holds the target's lease: refused, nothing changed."""

    exit_code = ExitCode.REFUSED

    def __init__(self, target: str, holder: Holder, *, hint: str | None = None) -> None:
        super().__init__(
            f"{target} is held by {holder.describe()}",
            hint=hint or "ask them; if their ditsops is gone, the lease expires by itself or can be taken over",
        )
        self.target = target
        self.holder = holder


class LeaseLost(DitsopsError):
    """The lease ran out or was taken over while held: the step must not apply now."""

    exit_code = ExitCode.REFUSED

    def __init__(self, target: str, why: str, holder: Holder | None = None) -> None:
        super().__init__(f"lost the lease on {target}: {why}")
        self.target = target
        self.holder = holder


class TargetLease(Protocol):
    target: str  # what is leased, for messages and the record
    forced: bool  # acquire(force=True) displaced a live holder (Kubernetes) or went on without the lock
    displaced: Holder | None  # that holder, when forced

    def acquire(self, *, force: bool = False) -> None: ...
    def release(self) -> None: ...
    def check(self) -> None: ...  # LeaseLost unless still held; call right before applying

    @property
    def held(self) -> bool: ...

    def __enter__(self) -> TargetLease: ...
    def __exit__(self, *exc: object) -> None: ...


def lease_name(deployment: str) -> str:
    """``ditsops-<deployment>``, kept within the 253 characters of an object name."""
    name = f"ditsops-{deployment}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(deployment.encode()).hexdigest()[:10]
    return f"{name[:242]}-{digest}"


class KubeLease:
    """A ``coordination.k8s.io/v1`` Lease on a deployment; see the module docstring."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        deployment: str,
        who: str,
        run_id: str,
        step: str,
        duration: float = DEFAULT_DURATION,
        *,
        renew_interval: float | None = None,
        renew: bool = True,
    ) -> None:
        self._client = client.in_namespace(namespace)
        self.namespace, self.deployment, self.name = namespace, deployment, lease_name(deployment)
        self.who, self.run_id, self.step = who, run_id, step
        self.seconds = max(1, math.ceil(duration))  # leaseDurationSeconds is an integer
        self.renew_interval = renew_interval if renew_interval is not None else self.seconds / 3
        self._renew = renew
        self.target = f'deployment "{deployment}" in namespace {namespace}'
        self.forced = False
        self.displaced: Holder | None = None
        self.suspicious: Holder | None = None  # a holder whose unbelievable lease was taken over
        self.release_error: str | None = None  # why release could not delete it (it expires anyway)
        self._lock = threading.RLock()  # one writer at a time: acquire, the renewer, release
        self._obj: dict[str, Any] | None = None  # the Lease as last written by us
        self._renewed = 0.0  # monotonic time of our last successful write
        self._lost: LeaseLost | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def held(self) -> bool:
        with self._lock:
            return self._obj is not None and self._lost is None

    def holder(self) -> Holder | None:
        """Who holds the lease now according to the server (None when there is none)."""
        try:
            return lease_holder(self._client.get("leases", self.name))
        except NotFound:
            return None

    def _ours(self, lease: dict[str, Any]) -> bool:
        notes = (lease.get("metadata") or {}).get("annotations") or {}
        return notes.get(RUN_KEY) == self.run_id and (lease.get("spec") or {}).get("holderIdentity") == self.who

    def _stamp(self, lease: dict[str, Any], now: datetime, *, taking: bool) -> dict[str, Any]:
        """Our record on a copy of lease (a fresh one when empty), as client-go's tryAcquireOrRenew
        writes it: acquireTime and a transition only when the holder changes."""
        body: dict[str, Any] = (
            copy.deepcopy(lease) if lease else {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
        )
        meta = body.setdefault("metadata", {})
        meta["name"] = self.name
        meta.setdefault("labels", {}).update(MANAGED_BY)
        meta.setdefault("annotations", {}).update({RUN_KEY: self.run_id, STEP_KEY: self.step})
        spec = body.setdefault("spec", {})
        if taking:
            changed = bool(lease) and not self._ours(lease)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if changed else 0)
            if changed or not spec.get("acquireTime"):
                spec["acquireTime"] = micro_time(now)
        spec.update(holderIdentity=self.who, leaseDurationSeconds=self.seconds, renewTime=micro_time(now))
        return body

    # -- acquire, renew, release --------------------------------------------------------

    def acquire(self, *, force: bool = False) -> None:
        with self._lock:
            if self.held:
                return
            self.forced, self.displaced, self._lost, self.release_error = False, None, None, None
            self.suspicious = None
            exists = False
            for _ in range(_ATTEMPTS):
                now = now_utc()
                if not exists:
                    try:
                        self._took(self._client.create("leases", self._stamp({}, now, taking=True)))
                        return
                    except Conflict:  # AlreadyExists: somebody's lease is there, judge it
                        exists = True
                try:
                    current = self._client.get("leases", self.name)
                except NotFound:
                    exists = False  # released between our create and our read: create again
                    continue
                holder, live = lease_holder(current), not lease_free(current, now)
                if live and not self._ours(current) and not force:
                    raise LeaseHeld(self.target, holder)
                try:
                    # The resourceVersion we read rides along: a 409 says someone wrote it since.
                    self._took(self._client.replace("leases", self.name, self._stamp(current, now, taking=True)))
                except Conflict:
                    continue  # someone got there first: re-read and judge them
                except NotFound:
                    exists = False
                    continue
                if live and not self._ours(current):
                    self.forced, self.displaced = True, holder
                elif holder.suspicious and holder.who and not self._ours(current):
                    self.suspicious = holder
                return
            latest = self.holder()
            if latest is not None and latest.run_id != self.run_id:
                raise LeaseHeld(self.target, latest)
            raise TargetError(f"could not take the lease on {self.target}: it kept changing under us")

    def _took(self, lease: dict[str, Any]) -> None:
        self._obj, self._renewed = lease, time.monotonic()
        if self._renew and (self._thread is None or not self._thread.is_alive()):
            self._stop = threading.Event()
            self._thread = start_background(self._renew_loop, args=(self._stop,), name=f"lease-{self.name}")

    def renew(self) -> None:
        """Write renewTime now; LeaseLost if the lease is no longer ours."""
        with self._lock:
            if self._lost is not None:
                raise self._lost
            if self._obj is None:
                raise LeaseLost(self.target, "it is not held")
            for _ in range(2):
                try:
                    self._obj = self._client.replace(
                        "leases", self.name, self._stamp(self._obj, now_utc(), taking=False)
                    )
                    self._renewed = time.monotonic()
                    return
                except (Conflict, NotFound):
                    # Changed under us: still ours (someone annotated it) -> renew on top of it.
                    try:
                        current = self._client.get("leases", self.name)
                    except NotFound:
                        raise self._lose("the Lease was deleted", None) from None
                    if not self._ours(current):
                        raise self._lose("someone else took it over", lease_holder(current)) from None
                    self._obj = current
            raise self._lose("it kept changing under us", None)

    def check(self) -> None:
        """Confirm on the server that we still hold it (and extend it): right before applying."""
        self.renew()

    def _lose(self, why: str, holder: Holder | None) -> LeaseLost:
        self._lost = LeaseLost(self.target, why, holder)
        self._stop.set()
        return self._lost

    def _renew_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.renew_interval):
            try:
                self.renew()
            except LeaseLost:
                return
            except DitsopsError as error:  # unreachable for a moment: retry until it could have expired
                with self._lock:
                    if time.monotonic() - self._renewed >= self.seconds and self._lost is None:
                        self._lose(f"could not renew it for {self.seconds}s ({error.message})", None)
                        return

    def release(self) -> None:
        """Delete the Lease if it is still ours; idempotent, never raises."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._client.timeout + 1)
        with self._lock:
            lease, self._obj, self._thread = self._obj, None, None
            if lease is None or self._lost is not None:
                return
            try:
                for _ in range(2):
                    meta = lease["metadata"]
                    try:  # the preconditions keep us from deleting a lease someone took meanwhile
                        self._client.delete(
                            "leases",
                            self.name,
                            preconditions={"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
                        )
                        return
                    except Conflict:
                        lease = self._client.get("leases", self.name)
                        if not self._ours(lease):
                            return
            except NotFound:
                return
            except DitsopsError as error:
                self.release_error = error.message

    def __enter__(self) -> KubeLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def kube_lease(
    client: KubeClient,
    namespace: str,
    deployment: str,
    who: str,
    run_id: str,
    step: str,
    duration: float = DEFAULT_DURATION,
    **options: Any,
) -> KubeLease:
    """The lease on a deployment (options: renew_interval, renew=False for tests)."""
    return KubeLease(client, namespace, deployment, who, run_id, step, duration, **options)
