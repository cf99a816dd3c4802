"""The Dits simulator's window on the sandbox Kubernetes API, and the bad-deploy fault's hands.

Two small things, all over plain HTTP with urllib (the simulator must start fast and the
kube API speaks JSON without TLS), and serverlogs.py's writer of the pods' log lines:

- kubefacts.py's `KubeDeploymentSource` (built on `KubeHTTP`): what the simulator asks on
  every tick about the dits-server Deployment and the Jobs of cronjob/dits-gc.
- `KubeHTTP`: the handful of calls the `bad-deploy` fault makes: read the Deployment,
  patch it as `kubectl set image` + `kubectl annotate` would, wait for the rollout.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

# The release the bad-deploy fault ships. Requests fail with 500 while it is deployed.
BAD_DEPLOY_TAG = "1.5.0"
BAD_DEPLOY_CHANGE_CAUSE = f"deploy {BAD_DEPLOY_TAG}"
NAMESPACE = "dits"
DEPLOYMENT = "dits-server"
POLL_SECONDS = 1.0
REQUEST_TIMEOUT = 2.0

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def image_tag(image: str | None) -> str:
    """The tag of `registry/name:tag` ("latest" without one, "" for no image)."""
    if not image:
        return ""
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else "latest"


def with_tag(image: str, tag: str) -> str:
    """`image` with its tag replaced (registry ports such as host:5000/x are kept)."""
    head, _, name = image.rpartition("/")
    base = name.split(":", 1)[0]
    return f"{head}/{base}:{tag}" if head else f"{base}:{tag}"


def is_bad_image(image: str | None) -> bool:
    return image_tag(image) == BAD_DEPLOY_TAG


class KubeError(Exception):
    """The Kubernetes API refused or could not be reached; `message` is one line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class KubeHTTP:
    """Minimal JSON client for the sandbox Kubernetes API (no auth: it is plain http)."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Accept": "application/json", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise KubeError(f"{method} {path}: {exc.code} {_status_message(exc)}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KubeError(f"cannot reach the Kubernetes API at {self.base_url}: {reason}") from None
        return json.loads(text) if text else {}

    def deployment_path(self, namespace: str = NAMESPACE, name: str = DEPLOYMENT) -> str:
        return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"

    def get_deployment(self, namespace: str = NAMESPACE, name: str = DEPLOYMENT) -> dict[str, Any]:
        return self.request("GET", self.deployment_path(namespace, name))

    def set_image(
        self,
        image: str,
        change_cause: str,
        namespace: str = NAMESPACE,
        name: str = DEPLOYMENT,
        container: str | None = None,
    ) -> dict[str, Any]:
        """`kubectl set image deployment/NAME C=IMAGE` and `kubectl annotate ... change-cause=`,
        as one strategic-merge patch (containers merge by name, so the others stay)."""
        patch = {
            "metadata": {"annotations": {"kubernetes.io/change-cause": change_cause}},
            "spec": {"template": {"spec": {"containers": [{"name": container or name, "image": image}]}}},
        }
        return self.request("PATCH", self.deployment_path(namespace, name), patch, STRATEGIC_MERGE_PATCH)

    def restore_template(
        self, template: dict[str, Any], change_cause: str | None, namespace: str = NAMESPACE, name: str = DEPLOYMENT
    ) -> dict[str, Any]:
        """What `kubectl rollout undo` sends: a JSON patch of spec.template and the annotations."""
        current = self.get_deployment(namespace, name)
        annotations = dict((current.get("metadata") or {}).get("annotations") or {})
        if change_cause is None:
            annotations.pop("kubernetes.io/change-cause", None)
        else:
            annotations["kubernetes.io/change-cause"] = change_cause
        operations = [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]
        return self.request("PATCH", self.deployment_path(namespace, name), operations, JSON_PATCH)

    def wait_for_rollout(
        self, namespace: str = NAMESPACE, name: str = DEPLOYMENT, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Until `kubectl rollout status` would say "successfully rolled out"."""
        deadline = time.monotonic() + timeout
        while True:
            deployment = self.get_deployment(namespace, name)
            if rollout_complete(deployment):
                return deployment
            if time.monotonic() > deadline:
                status = deployment.get("status") or {}
                raise KubeError(
                    f'deployment "{name}" did not finish rolling out within {timeout:.0f} s '
                    f"(updated {status.get('updatedReplicas', 0)}, available {status.get('availableReplicas', 0)} "
                    f"of {deployment['spec'].get('replicas', 1)})"
                )
            time.sleep(0.1)

    def append_logs(
        self, lines: list[str], selector: str, namespace: str = NAMESPACE, mode: str = "round-robin"
    ) -> dict[str, Any]:
        query = urllib.parse.urlencode({"labelSelector": selector})
        return self.request("POST", f"/sandbox/v1/namespaces/{namespace}/logs?{query}", {"lines": lines, "mode": mode})


def rollout_complete(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    want = (deployment.get("spec") or {}).get("replicas", 1)
    return (
        deployment["metadata"].get("generation", 1) <= status.get("observedGeneration", 0)
        and status.get("updatedReplicas", 0) >= want
        and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
        and status.get("availableReplicas", 0) >= status.get("updatedReplicas", 0)
    )


def container_image(deployment: dict[str, Any], container: str | None = None) -> str | None:
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    wanted = container or deployment["metadata"]["name"]
    for item in containers:
        if item.get("name") == wanted:
            return item.get("image")
    return containers[0].get("image") if containers else None


def _status_message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("message") or error.reason)
    except (ValueError, AttributeError, OSError):
        return str(error.reason)
