"""``KubeAPIServer``: the store, the API, the HTTP listener and the controllers together."""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from . import strategy
from .api import KubeAPI
from .controller import Controller
from .deployment_util import get_condition
from .errors import ApiError
from .httpd import make_server
from .logs import LogBook
from .selectors import parse_label_selector
from .store import Obj, Store

DITS_IMAGE = "registry.dits.dev/dits-server:1.4.2"
WORKER_IMAGE = "registry.dits.dev/dits-worker:1.4.2"


def dits_deployment(
    name: str, image: str, replicas: int, env: dict[str, str], port: int | None, change_cause: str
) -> Obj:
    container: dict[str, Any] = {"name": name, "image": image, "env": [{"name": k, "value": v} for k, v in env.items()]}
    if port:
        container["ports"] = [{"name": "http", "containerPort": port}]
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels), "annotations": {"kubernetes.io/change-cause": change_cause}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
    }


def dits_gc_cronjob(image: str = WORKER_IMAGE) -> Obj:
    """The hourly garbage collection of unreferenced chunks, run by the worker image."""
    labels = {"app": "dits-gc"}
    container = {"name": "gc", "image": image, "command": ["dits-worker", "gc", "--once"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "dits-gc", "labels": dict(labels)},
        "spec": {
            "schedule": "0 * * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": {"restartPolicy": "Never", "containers": [container]},
                    },
                },
            },
        },
    }


class KubeAPIServer:
    """An in-memory Kubernetes API server on ``host:port`` (0 picks a free port).

    ``ready_delay`` is how long a pod takes from creation to Ready; ``crash_interval`` the
    period of a crash-looping container; ``controller_interval=None`` runs no controller
    thread (call ``reconcile_once()``/``settle()`` yourself); ``token`` requires
    ``Authorization: Bearer <token>`` (the Python client sends it over plain http, but
    kubectl does not: client-go applies kubeconfig credentials only to TLS connections, so
    leave ``token`` unset where kubectl must work); ``watch_history`` is how many changes a watch can
    resume from before it gets 410 Expired.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_delay: float = 0.5,
        token: str | None = None,
        *,
        crash_interval: float = 2.0,
        controller_interval: float | None = 0.1,
        watch_history: int = 50_000,
    ) -> None:
        self.host, self.token = host, token
        self.store = Store(watch_history=watch_history)
        self.logs = LogBook()
        self._stopping = threading.Event()
        self.api = KubeAPI(self.store, self.logs, self._stopping)
        self.controller = Controller(
            self.store,
            self.logs,
            ready_delay=ready_delay,
            crash_interval=crash_interval,
            interval=controller_interval or 0.1,
        )
        self._run_controller = controller_interval is not None
        self._httpd = make_server(host, port, self.api, token)
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> KubeAPIServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="kubeapi-http", daemon=True
            )
            self._thread.start()
            if self._run_controller:
                self.controller.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()  # wake watches so they notice
        self.controller.stop()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | os.PathLike[str], context: str = "sandbox", namespace: str = "dits") -> Path:
        """A kubeconfig (JSON, which is YAML) for kubectl and the Python client, mode 0600."""
        user: dict[str, Any] = {"token": self.token} if self.token else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
            "current-context": context,
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        return target

    # ------------------------------------------------------------ Python API

    def create(self, plural: str, obj: Obj, namespace: str | None = None) -> Obj:
        return copy.deepcopy(self.store.create(plural, obj, namespace))

    def get(self, plural: str, namespace: str | None, name: str) -> Obj:
        with self.store:
            return copy.deepcopy(self.store.get(plural, namespace, name))

    def list(self, plural: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        with self.store:
            items, _ = self.store.list(plural, namespace, labels=parse_label_selector(label_selector))
            return copy.deepcopy(items)

    def ensure_namespace(self, name: str) -> None:
        try:
            self.store.create("namespaces", {"metadata": {"name": name}})
        except ApiError as exc:
            if exc.reason != "AlreadyExists":
                raise

    def append_log(
        self, namespace: str, selector: str, lines: list[str], *, container: str | None = None, spread: bool = False
    ) -> list[str]:
        """Append lines to the logs of running pods matching selector; returns the pod names.

        Every line goes to every pod unless ``spread``, which deals them round-robin."""
        return self.api.appender.append(
            namespace, parse_label_selector(selector), list(lines), container=container, spread=spread
        )

    def set_image_behavior(self, image_substring: str, behavior: str) -> None:
        """Make containers whose image contains the substring ready / never-ready / crash / pull-error."""
        from .kubelet import BEHAVIORS

        if behavior not in BEHAVIORS:
            raise ValueError(f"behavior must be one of {BEHAVIORS}")
        self.controller.kubelet.image_rules.insert(0, (image_substring, behavior))

    def reconcile_once(self) -> int:
        return self.controller.reconcile_once()

    def settle(self, timeout: float = 10.0) -> bool:
        return self.controller.settle(timeout)

    def wait_for_rollout(self, namespace: str, name: str, timeout: float = 30.0) -> Obj:
        """Wait until ``kubectl rollout status`` would say "successfully rolled out"."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.get("deployments", namespace, name)
            status, want = d.get("status") or {}, d["spec"].get("replicas", 1)
            cond = get_condition(status, "Progressing") or {}
            if cond.get("reason") == "ProgressDeadlineExceeded":
                raise TimeoutError(f'deployment "{name}" exceeded its progress deadline')
            if (
                d["metadata"].get("generation", 1) <= status.get("observedGeneration", 0)
                and status.get("updatedReplicas", 0) >= want
                and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
                and status.get("availableReplicas", 0) >= status.get("updatedReplicas", 0)
            ):
                return d
            if time.monotonic() > deadline:
                raise TimeoutError(f'deployment "{name}" did not finish rolling out in {timeout}s')
            if not self._run_controller:
                self.reconcile_once()
            time.sleep(0.02)

    def seed_dits(self, namespace: str = "dits", timeout: float = 30.0) -> None:
        """Namespace ``dits`` with ``dits-server`` (3 replicas) and ``dits-worker`` (2), available,
        and the CronJob ``dits-gc`` (hourly; never fired here, see ``job.py``)."""
        self.ensure_namespace(namespace)
        seeds = [
            dits_deployment(
                "dits-server", DITS_IMAGE, 3, {"DATABASE_POOL_SIZE": "20"}, 8080, "initial deploy of dits-server 1.4.2"
            ),
            dits_deployment(
                "dits-worker", WORKER_IMAGE, 2, {"DATABASE_POOL_SIZE": "5"}, None, "initial deploy of dits-worker 1.4.2"
            ),
        ]
        for seed in seeds:
            if self.store.try_get("deployments", namespace, seed["metadata"]["name"]) is None:
                self.store.create("deployments", seed, namespace)
        if self.store.try_get("cronjobs", namespace, "dits-gc") is None:
            self._seed_cronjob(namespace)
        for seed in seeds:
            self.wait_for_rollout(namespace, seed["metadata"]["name"], timeout)

    def _seed_cronjob(self, namespace: str) -> None:
        """Created on the store's clock (dated by --seed-age); its last run is the last top of
        the hour on the real clock, if that came after its creation (else it never ran)."""
        cronjob = self.store.create("cronjobs", dits_gc_cronjob(), namespace)
        last = time.time() // 3600 * 3600
        if last > self.store.clock():
            cronjob = copy.deepcopy(cronjob)
            cronjob["status"] = {
                "lastScheduleTime": strategy.rfc3339(last),
                "lastSuccessfulTime": strategy.rfc3339(last + 37),
            }
            self.store.update("cronjobs", cronjob, namespace, subresource="status")
