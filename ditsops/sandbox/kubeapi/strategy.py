"""What the apiserver does to an object on its way in: defaults, validation, generation.

Per resource, like the registry strategies upstream: system fields (uid,
creationTimestamp, generation) are server-owned; a write to the main resource keeps the
stored status and a write to ``/status`` keeps the stored spec; ``metadata.generation``
moves only when the spec changes. Defaults are the apps/v1 and core/v1 ones that show up
in ``kubectl get -o yaml`` and in template comparisons.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from typing import Any

from .errors import ApiError, bad_request, invalid
from .resources import CRONJOBS, DEPLOYMENTS, JOBS, LEASES, NAMESPACES, PODS, REPLICASETS, ResourceType
from .selectors import SelectorError, from_label_selector_object

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # utilrand's: no vowels, no confusable digits
HASH_LABEL = "pod-template-hash"
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MICRO_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def rfc3339(epoch: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(SAFE_ALPHABET) for _ in range(length))


def template_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """``controller.ComputeHash``: FNV-32a of the template, encoded with the safe alphabet.

    Upstream hashes a spew dump of the Go struct; this hashes canonical JSON, so the values
    differ from a real cluster's but have the same shape and stability."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":"))
    if collision_count:
        data += str(collision_count)
    value = 0x811C9DC5
    for byte in data.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in str(value).encode())


def strip_hash(template: dict[str, Any]) -> dict[str, Any]:
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop(HASH_LABEL, None)
    meta = {k: v for k, v in (template.get("metadata") or {}).items() if k != "labels"}
    if labels:
        meta["labels"] = labels
    return _normalized({**template, "metadata": meta})


def _normalized(value: Any) -> Any:
    """Drop nulls and empty maps/lists, as a JSON round trip through Go's omitempty does."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def templates_equal_ignoring_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``EqualIgnoreHash``: pod templates compared without the pod-template-hash label."""
    return strip_hash(a) == strip_hash(b)


# ----------------------------------------------------------------- defaults


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        image = container.get("image") or ""
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _default_template(template: dict[str, Any]) -> None:
    template.setdefault("metadata", {})
    _default_pod_spec(template.setdefault("spec", {}))


def _default_job_spec(spec: dict[str, Any]) -> None:
    """``SetDefaults_Job`` (for a Job, not a CronJob's jobTemplate, which upstream leaves as is)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if not spec.get("podFailurePolicy"):
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")


def apply_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {}) if rt in (DEPLOYMENTS, REPLICASETS, PODS, JOBS, CRONJOBS) else None
    if rt is DEPLOYMENTS:
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _default_template(spec.setdefault("template", {}))
    elif rt is REPLICASETS:
        spec.setdefault("replicas", 1)
        _default_template(spec.setdefault("template", {}))
    elif rt is PODS:
        _default_pod_spec(spec)
    elif rt is JOBS:
        _default_job_spec(spec)
        _default_template(spec.setdefault("template", {}))
    elif rt is CRONJOBS:
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        _default_template(job_spec.setdefault("template", {}))
    elif rt is LEASES:
        obj.setdefault("spec", {})
        for field in ("acquireTime", "renewTime"):
            _micro_time(obj, field)
    elif rt is NAMESPACES:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


# ----------------------------------------------------------------- validation


def _go_map(value: dict[str, Any] | None) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted((value or {}).items()))
    return "map[string]string{" + inner + "}"


def _validate_name(rt: ResourceType, name: str) -> list[tuple[str, str]]:
    pattern, what = (_LABEL, "RFC 1123 label") if rt is NAMESPACES else (_SUBDOMAIN, "RFC 1123 subdomain")
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if not pattern.match(name) or len(name) > (63 if rt is NAMESPACES else 253):
        return [
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        ]
    return []


def _validate_pod_spec(path: str, spec: dict[str, Any]) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append((f"{path}.containers", "Required value"))
    seen: set[str] = set()
    for i, container in enumerate(containers):
        name = container.get("name") or ""
        if not name:
            causes.append((f"{path}.containers[{i}].name", "Required value"))
        elif name in seen:
            causes.append((f"{path}.containers[{i}].name", f'Duplicate value: "{name}"'))
        seen.add(name)
        if not container.get("image"):
            causes.append((f"{path}.containers[{i}].image", "Required value"))
    return causes


def _validate_workload(rt: ResourceType, obj: dict[str, Any]) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    causes: list[tuple[str, str]] = []
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(("spec.selector", "Required value"))
    else:
        try:
            parsed = from_label_selector_object(selector)
        except SelectorError as exc:
            causes.append(("spec.selector", f"Invalid value: {exc}"))
        else:
            if not parsed.requirements:
                causes.append(
                    (
                        "spec.selector",
                        f"Invalid value: {json.dumps(selector)}: empty selector is invalid for {rt.singular}",
                    )
                )
            elif not parsed.matches(labels):
                causes.append(
                    (
                        "spec.template.metadata.labels",
                        f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
                    )
                )
    causes += _validate_pod_spec("spec.template.spec", (spec.get("template") or {}).get("spec") or {})
    if rt is DEPLOYMENTS:
        strategy = spec.get("strategy") or {}
        if strategy.get("type") not in ("RollingUpdate", "Recreate"):
            causes.append(
                (
                    "spec.strategy.type",
                    f'Unsupported value: "{strategy.get("type")}": supported values: "Recreate", "RollingUpdate"',
                )
            )
        elif strategy["type"] == "Recreate" and strategy.get("rollingUpdate"):
            causes.append(
                ("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'")
            )
        rolling = strategy.get("rollingUpdate") or {}
        if (
            strategy.get("type") == "RollingUpdate"
            and rolling.get("maxSurge") in (0, "0%")
            and rolling.get("maxUnavailable") in (0, "0%")
        ):
            causes.append(
                ("spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0")
            )
    return causes


def _micro_time(lease: dict[str, Any], field: str) -> None:
    """``metav1.MicroTime`` as the apiserver stores it: decoded and written back with six
    fractional digits, so clients comparing renewTime see one spelling; junk is a 400, as
    a Go JSON decode error is."""
    spec = lease.get("spec") or {}
    value = spec.get(field)
    if value is None:
        return
    match = _MICRO_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise bad_request(
            f'Lease in version "v1" cannot be handled as a Lease: parsing time "{value}" as '
            '"2006-01-02T15:04:05.000000Z07:00": cannot parse'
        )
    stamp, fraction, zone = match.groups()
    spec[field] = f"{stamp}.{(fraction or '').ljust(6, '0')[:6]}{zone}"


def _validate_lease(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """``ValidateLeaseSpec``: durations positive, transitions not negative."""
    spec = obj.get("spec") or {}
    causes: list[tuple[str, str]] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        causes.append(("spec.leaseDurationSeconds", f"Invalid value: {duration}: must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        causes.append(("spec.leaseTransitions", f"Invalid value: {transitions}: must be greater than or equal to 0"))
    return causes


def _validate_job_template(path: str, template: dict[str, Any]) -> list[tuple[str, str]]:
    spec = template.get("spec") or {}
    causes = _validate_pod_spec(f"{path}.spec", spec)
    if spec.get("restartPolicy") not in ("OnFailure", "Never"):
        causes.append(
            (
                f"{path}.spec.restartPolicy",
                f'Unsupported value: "{spec.get("restartPolicy")}": supported values: "OnFailure", "Never"',
            )
        )
    return causes


def _generate_job_selector(obj: dict[str, Any]) -> None:
    """The job strategy's ``generateSelector`` (unless ``manualSelector``), and the labels
    ``SetDefaults_Job`` copies from the template when the Job has none (upstream on the
    read back from storage, so they include the generated ones)."""
    meta, spec = obj["metadata"], obj["spec"]
    if not spec.get("manualSelector"):
        labels = spec["template"]["metadata"].setdefault("labels", {})
        for key in ("batch.kubernetes.io/controller-uid", "controller-uid"):
            labels.setdefault(key, meta["uid"])
        for key in ("batch.kubernetes.io/job-name", "job-name"):
            labels.setdefault(key, meta["name"])
        if not spec.get("selector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}}
    if not meta.get("labels") and spec["template"]["metadata"].get("labels"):
        meta["labels"] = dict(spec["template"]["metadata"]["labels"])


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    meta = obj["metadata"]
    causes = _validate_name(rt, meta.get("name", ""))
    if rt in (DEPLOYMENTS, REPLICASETS):
        causes += _validate_workload(rt, obj)
        if old is not None and (obj.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            causes.append(
                ("spec.selector", f"Invalid value: {json.dumps(obj['spec'].get('selector'))}: field is immutable")
            )
    elif rt is PODS and old is None:
        causes += _validate_pod_spec("spec", obj.get("spec") or {})
    elif rt is JOBS:
        causes += _validate_job_template("spec.template", (obj.get("spec") or {}).get("template") or {})
    elif rt is CRONJOBS:
        spec = obj.get("spec") or {}
        if not spec.get("schedule"):
            causes.append(("spec.schedule", "Required value"))
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        causes += _validate_job_template("spec.jobTemplate.spec.template", template)
    elif rt is LEASES:
        causes += _validate_lease(obj)
    if causes:
        raise invalid(rt, meta.get("name", ""), causes)


# ----------------------------------------------------------------- create/update


def _check_shape(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
        raise bad_request("the body of the request must be a JSON object with object metadata")
    obj.setdefault("metadata", {})
    return obj


def prepare_for_create(rt: ResourceType, obj: Any, namespace: str | None, now: float) -> dict[str, Any]:
    obj = _check_shape(obj)
    meta = obj["metadata"]
    if meta.get("resourceVersion"):
        raise bad_request("resourceVersion should not be set on objects to be created")
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + random_suffix()
    if rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = rfc3339(now)
    if rt in (DEPLOYMENTS, REPLICASETS, JOBS, CRONJOBS):
        meta["generation"] = 1
        obj["status"] = {"replicas": 0} if rt is REPLICASETS else {}
    elif rt is PODS:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    apply_defaults(rt, obj)
    if rt is JOBS:
        _generate_job_selector(obj)
    validate(rt, obj)
    return obj


def prepare_for_update(rt: ResourceType, obj: Any, old: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    obj = _check_shape(obj)
    meta, old_meta = obj["metadata"], old["metadata"]
    if meta.get("name") and meta["name"] != old_meta["name"]:
        raise bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({old_meta['name']})"
        )
    if meta.get("uid") and meta["uid"] != old_meta["uid"]:
        raise ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rt.qualified} "{old_meta["name"]}": '
            f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
            f"{old_meta['uid']}",
        )
    obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
    for key in ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    has_status = rt in (DEPLOYMENTS, REPLICASETS, PODS, NAMESPACES, JOBS, CRONJOBS)
    # subresource "*" is internal: the scheduler/kubelet writing spec.nodeName and status at once.
    if subresource == "status":
        obj["spec"] = old.get("spec")
        if old_meta.get("labels") is not None:
            meta["labels"] = old_meta["labels"]
        else:
            meta.pop("labels", None)
    elif has_status and subresource != "*":
        obj["status"] = old.get("status", {})
    apply_defaults(rt, obj)
    if rt in (DEPLOYMENTS, REPLICASETS, JOBS, CRONJOBS) and obj.get("spec") != old.get("spec"):
        meta["generation"] = old_meta.get("generation", 1) + 1
    if subresource is None:
        validate(rt, obj, old)
    return {k: v for k, v in obj.items() if v is not None}
