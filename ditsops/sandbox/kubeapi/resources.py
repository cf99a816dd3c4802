"""The resource types this API serves, as discovery describes them."""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    plural: str
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The group-qualified name apiserver messages use: ``deployments.apps``, ``pods``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


NAMESPACES = ResourceType(
    "namespaces",
    "namespace",
    "Namespace",
    "",
    "v1",
    False,
    ("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    subresources=("status",),
)
PODS = ResourceType("pods", "pod", "Pod", "", "v1", True, ("po",), ("all",), subresources=("log", "status"))
EVENTS = ResourceType("events", "event", "Event", "", "v1", True, ("ev",))
DEPLOYMENTS = ResourceType(
    "deployments",
    "deployment",
    "Deployment",
    "apps",
    "v1",
    True,
    ("deploy",),
    ("all",),
    subresources=("scale", "status"),
)
REPLICASETS = ResourceType(
    "replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",), ("all",), subresources=("scale", "status")
)
JOBS = ResourceType("jobs", "job", "Job", "batch", "v1", True, (), ("all",), subresources=("status",))
CRONJOBS = ResourceType(
    "cronjobs", "cronjob", "CronJob", "batch", "v1", True, ("cj",), ("all",), subresources=("status",)
)
# The locks leader election (and ditsops, around a destructive step) take; no short name upstream.
LEASES = ResourceType("leases", "lease", "Lease", "coordination.k8s.io", "v1", True)

RESOURCES: tuple[ResourceType, ...] = (NAMESPACES, PODS, EVENTS, DEPLOYMENTS, REPLICASETS, JOBS, CRONJOBS, LEASES)
BY_PLURAL: dict[str, ResourceType] = {rt.plural: rt for rt in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    rt = BY_PLURAL.get(plural)
    if rt is None or rt.group != group or rt.version != version:
        return None
    return rt
