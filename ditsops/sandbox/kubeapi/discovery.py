"""Discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/apps/v1``.

kubectl 1.32 asks ``/api`` and ``/apis`` for aggregated discovery
(``as=APIGroupDiscoveryList``) but also accepts plain ``application/json``; the legacy
documents served here make it fall back to per-group-version discovery, which every
client understands. ``deployments/scale`` names autoscaling/v1 Scale, which is what
``kubectl scale`` looks for.
"""

from __future__ import annotations

from typing import Any

from .resources import RESOURCES, ResourceType

KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-ditsops-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "log": ["get"]}


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_versions() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rt in RESOURCES:
        if rt.group and rt.version not in groups.setdefault(rt.group, []):
            groups[rt.group].append(rt.version)
    return groups


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, versions in _group_versions().items():
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    versions = _group_versions().get(group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def _resource_entry(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    return entry


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    resources: list[dict[str, Any]] = []
    for rt in RESOURCES:
        if rt.group != group or rt.version != version:
            continue
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": _SUBRESOURCE_VERBS[sub],
            }
            if sub == "scale":
                entry.update(group="autoscaling", version="v1", kind="Scale")
            elif sub == "log":
                entry["kind"] = "Pod"
            resources.append(entry)
    if not resources:
        return None
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


# ------------------------------------------------------------------ OpenAPI v3 (just enough)
# kubectl validates -f input client-side against OpenAPI unless the server says it validates
# itself: its QueryParamVerifierV3 looks for a PATCH operation tagged with the object's
# x-kubernetes-group-version-kind that lists a ``fieldValidation`` query parameter. These
# documents say exactly that and nothing more; without component schemas kubectl computes
# apply patches from its compiled-in types, as it does for any server without OpenAPI.


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_root() -> dict[str, Any]:
    gvs = sorted({(rt.group, rt.version) for rt in RESOURCES})
    return {
        "paths": {_gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash=sandbox1"} for g, v in gvs}
    }


def openapi_v3_group_version(path: str) -> dict[str, Any] | None:
    paths: dict[str, Any] = {}
    for rt in RESOURCES:
        if _gv_path(rt.group, rt.version) != path:
            continue
        base = (
            f"/{path}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
            if rt.namespaced
            else f"/{path}/{rt.plural}/{{name}}"
        )
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        params = [
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ]
        paths[base] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
            }
        }
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (ditsops sandbox)", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": {}},
    }
