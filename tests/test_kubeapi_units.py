"""The pure pieces of the in-memory API: selectors, patches, template hashing, table ages."""

from __future__ import annotations

import json

import pytest

from ditsops.sandbox.kubeapi.patch import PatchError, apply_patch, json_patch, merge_patch, strategic_merge_patch
from ditsops.sandbox.kubeapi.selectors import (
    SelectorError,
    from_label_selector_object,
    parse_field_selector,
    parse_label_selector,
    selector_string,
)
from ditsops.sandbox.kubeapi.strategy import SAFE_ALPHABET, template_hash, templates_equal_ignoring_hash
from ditsops.sandbox.kubeapi.tables import human_duration

LABELS = {"app": "dits-server", "tier": "api", "version": "3"}


@pytest.mark.parametrize(
    "selector, matches",
    [
        ("", True),
        ("app=dits-server", True),
        ("app==dits-server", True),
        ("app!=dits-server", False),
        ("app=dits-worker", False),
        ("missing!=x", True),  # != matches objects without the key, as upstream
        ("app in (dits-server, dits-worker)", True),
        ("app notin (dits-server)", False),
        ("missing notin (a,b)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=dits-server,tier=api", True),
        ("app=dits-server,tier=db", False),
        ("version>2", True),
        ("version<2", False),
    ],
)
def test_label_selector_operators(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize("bad", ["app in dits", "app=", "=x", "app in (a", "a b"])
def test_label_selector_rejects_garbage(bad: str) -> None:
    if bad == "app=":  # an empty value is valid: it selects app=""
        assert parse_label_selector(bad).matches({"app": ""})
        return
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_label_selector_object_and_its_string_form() -> None:
    selector = {
        "matchLabels": {"app": "x"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "gone", "operator": "DoesNotExist"},
        ],
    }
    assert selector_string(selector) == "app=x,!gone,tier in (a,b)"  # sorted by key, values sorted
    parsed = from_label_selector_object(selector)
    assert parsed.matches({"app": "x", "tier": "a"})
    assert not parsed.matches({"app": "x", "tier": "a", "gone": "1"})
    assert selector_string({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert not from_label_selector_object(None).matches({})  # nil selects nothing
    assert from_label_selector_object({}).matches({"any": "thing"})  # empty selects everything


def test_field_selectors_per_resource() -> None:
    pod = {"metadata": {"name": "p", "namespace": "dits"}, "status": {"phase": "Running"}}
    assert parse_field_selector("status.phase=Running,metadata.name=p", "pods")(pod)
    assert not parse_field_selector("status.phase!=Running", "pods")(pod)
    event = {
        "metadata": {"name": "e", "namespace": "dits"},
        "involvedObject": {"kind": "Deployment", "name": "dits-server"},
    }
    assert parse_field_selector("involvedObject.kind=Deployment,involvedObject.name=dits-server", "events")(event)
    with pytest.raises(SelectorError, match="field label not supported: spec.replicas"):
        parse_field_selector("spec.replicas=3", "deployments")


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "x/y": 1, "t~": 2}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "replace", "path": "/x~1y", "value": 9},
            {"op": "remove", "path": "/t~0"},
            {"op": "copy", "from": "/a/b", "path": "/c"},
            {"op": "move", "from": "/c", "path": "/d"},
            {"op": "test", "path": "/d/3", "value": 3},
        ],
    )
    assert out == {"a": {"b": [0, 1, 2, 3]}, "x/y": 9, "d": [0, 1, 2, 3]}
    assert doc == {"a": {"b": [1, 2]}, "x/y": 1, "t~": 2}  # the original is untouched
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "test", "path": "/x~1y", "value": 2}])


def test_merge_patch_rfc7386() -> None:
    assert merge_patch({"a": "b", "c": {"d": "e", "f": "g"}}, {"a": "z", "c": {"f": None}}) == {
        "a": "z",
        "c": {"d": "e"},
    }
    assert merge_patch({"l": [1, 2]}, {"l": [3]}) == {"l": [3]}


def _pod_spec(*containers: dict) -> dict:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_strategic_merge_merges_containers_and_env_by_name() -> None:
    original = _pod_spec(
        {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "s:1"},
    )
    # What kubectl set env sends: only the changed container, with $setElementOrder.
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "name": "app",
                            "$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                            "env": [{"name": "C", "value": "3"}],
                        }
                    ],
                }
            }
        }
    }
    out = strategic_merge_patch(original, patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "sidecar"]
    assert containers[0]["image"] == "a:1"
    assert containers[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "C", "value": "3"},
        {"name": "B", "value": "2"},
    ]


def test_strategic_merge_directives() -> None:
    original = _pod_spec(
        {
            "name": "app",
            "image": "a:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "args": ["--x"],
        }
    )
    out = strategic_merge_patch(
        original,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "app", "env": [{"$patch": "delete", "name": "A"}], "args": ["--y"]}]
                    }
                }
            }
        },
    )
    app = out["spec"]["template"]["spec"]["containers"][0]
    assert app["env"] == [{"name": "B", "value": "2"}]
    assert app["args"] == ["--y"]  # lists without a merge key are replaced
    out = strategic_merge_patch(
        original,
        {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "new", "image": "n:1"}]}}}},
    )
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "new", "image": "n:1"}]
    out = strategic_merge_patch(
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    )
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = strategic_merge_patch(
        {"metadata": {"annotations": {"a": "1", "b": "2"}}}, {"metadata": {"annotations": {"a": None}}}
    )
    assert out == {"metadata": {"annotations": {"b": "2"}}}


def test_apply_patch_dispatches_on_media_type() -> None:
    doc = {"spec": {"replicas": 1}}
    body = json.dumps({"spec": {"replicas": 5}}).encode()
    assert apply_patch("application/merge-patch+json", doc, body)["spec"]["replicas"] == 5
    assert apply_patch("application/strategic-merge-patch+json; charset=utf-8", doc, body)["spec"]["replicas"] == 5
    ops = json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 2}]).encode()
    assert apply_patch("application/json-patch+json", doc, ops)["spec"]["replicas"] == 2


def test_template_hash_is_stable_and_safe() -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "x", "image": "x:1"}]}}
    first = template_hash(template)
    assert first == template_hash(json.loads(json.dumps(template)))
    assert set(first) <= set(SAFE_ALPHABET)
    assert template_hash(template, 1) != first
    hashed = json.loads(json.dumps(template))
    hashed["metadata"]["labels"]["pod-template-hash"] = first
    assert templates_equal_ignoring_hash(template, hashed)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (5, "5s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (50 * 3600, "2d2h"),
    ],
)
def test_human_duration_matches_kubectl_ages(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
