"""An in-memory Kubernetes API server: a practice and test double, not a cluster.

It speaks enough of the Kubernetes wire format (JSON over plain HTTP, metav1.Status errors,
discovery, Tables for ``kubectl get``, watches, protobuf bodies for Jobs and CronJobs)
that both real ``kubectl`` and the official Python client work against it through an
ordinary kubeconfig. It serves Namespaces, Deployments (with ``status`` and ``scale``),
ReplicaSets, Pods (with ``log``), Events, Jobs, CronJobs and Leases (coordination.k8s.io,
with the resourceVersion conflicts leader election relies on), and runs a deployment
controller, a ReplicaSet controller, a Job controller and a pretend kubelet, so rollouts,
rollbacks, restarts, scaling and Jobs behave as on a cluster, with revisions, events and
status conditions set the way the real controllers set them. CronJobs never fire by
themselves (no cronjob controller): a Job is made from one on demand.

Everything lives in memory and is gone when the process ends. There is no TLS, RBAC,
admission, server-side apply, OpenAPI schema or garbage collector latency; deletion is
immediate (no graceful termination) and cascades synchronously.

    with KubeAPIServer(ready_delay=0.2) as api:
        api.seed_dits()
        kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
        # kubectl --kubeconfig kubeconfig rollout undo deployment/dits-server

Run it as a process with ``python -m ditsops.sandbox.kubeapi --port N --kubeconfig PATH``.
"""

from .server import KubeAPIServer

__all__ = ["KubeAPIServer"]
