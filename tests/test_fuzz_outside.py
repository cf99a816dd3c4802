"""Fuzzing what comes from outside the program: Kubernetes answers mutated at any place
reach core only through the shape checks (so nothing but the DitsopsError family can come
out: never a KeyError, TypeError or AttributeError), and runbook text fields of any
characters render escaped: no escape sequence, C1 control or bidi override reaches the
terminal, markup never raises, a single-line field stays one line."""

from __future__ import annotations

import copy
import io
import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ditsops.base.errors import DitsopsError
from ditsops.clients.kubeshapes import kube_object, kube_page

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TEMPLATE = {
    "metadata": {"labels": {"app": "s"}, "annotations": {"a": "b"}},
    "spec": {"containers": [{"name": "s", "image": "i:1", "env": [{"name": "A", "value": "1"}]}]},
}
DEPLOYMENT = {
    "metadata": {
        "name": "dits-server",
        "namespace": "dits",
        "uid": "u1",
        "generation": 2,
        "resourceVersion": "5",
        "annotations": {"deployment.kubernetes.io/revision": "2"},
        "creationTimestamp": "2026-12-07T10:00:00Z",
    },
    "spec": {
        "replicas": 3,
        "selector": {
            "matchLabels": {"app": "s"},
            "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}],
        },
        "template": TEMPLATE,
    },
    "status": {
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 2,
        "conditions": [{"type": "Available", "status": "True", "reason": "r", "message": "m"}],
    },
}
REPLICASET = {
    "metadata": {
        "name": "dits-server-abc",
        "uid": "r1",
        "annotations": {"deployment.kubernetes.io/revision": "1"},
        "ownerReferences": [{"uid": "u1", "controller": True, "kind": "Deployment", "name": "dits-server"}],
        "creationTimestamp": "2026-12-07T09:00:00Z",
    },
    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "s"}}, "template": TEMPLATE},
    "status": {"replicas": 0},
}
POD = {
    "metadata": {"name": "dits-server-abc-1", "creationTimestamp": "2026-12-07T10:00:00Z"},
    "spec": {"containers": [{"name": "s", "image": "i:1"}], "nodeName": "n1"},
    "status": {
        "phase": "Running",
        "startTime": "2026-12-07T10:00:00Z",
        "containerStatuses": [
            {"name": "s", "ready": True, "restartCount": 1, "state": {"waiting": {"reason": "X"}}, "lastState": {}}
        ],
    },
}
EVENT = {
    "metadata": {"name": "e1", "creationTimestamp": "2026-12-07T10:00:00Z"},
    "involvedObject": {"name": "dits-server", "kind": "Deployment"},
    "type": "Warning",
    "reason": "R",
    "message": "m",
    "count": 2,
    "lastTimestamp": "2026-12-07T10:00:00Z",
}
LEASE = {
    "metadata": {"name": "ditsops-dits-server", "annotations": {"ditsops.dev/run": "r"}},
    "spec": {
        "holderIdentity": "a@b",
        "leaseDurationSeconds": 30,
        "renewTime": "2026-12-07T10:00:00.000000Z",
        "acquireTime": "2026-12-07T10:00:00.000000Z",
    },
}

_JOB_TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "i", "command": ["run"], "args": ["--x"]}]}}
CRONJOB = {
    "metadata": {"name": "nightly", "uid": "c1", "namespace": "dits"},
    "spec": {
        "suspend": False,
        "jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"template": _JOB_TEMPLATE}},
    },
}
JOB = {
    "metadata": {"name": "nightly-manual-x"},
    "spec": {"completions": 1, "template": _JOB_TEMPLATE},
    "status": {"active": 1, "succeeded": 0, "failed": 0, "conditions": [{"type": "Complete", "status": "True"}]},
}

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["9999-12-31T23:59:59Z", "2026-12-07T10:00:00Z", "", "0001-01-01T00:00:00Z", "abc"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def mutate(document: Any, data: st.DataObject, depth: int = 0) -> Any:
    """The document with one place (chosen by hypothesis) replaced, removed or left."""
    if depth > 6 or not isinstance(document, dict | list) or data.draw(st.integers(0, 4)) == 0:
        return data.draw(JSON)
    document = copy.copy(document)
    keys = list(document.keys()) if isinstance(document, dict) else list(range(len(document)))
    if not keys:
        return document
    key = data.draw(st.sampled_from(keys))
    if isinstance(document, dict) and data.draw(st.integers(0, 5)) == 0:
        del document[key]
        return document
    document[key] = mutate(document[key], data, depth + 1)
    return document


class FakeKube:
    """What KubeClient hands to core: every answer through the same shape checks."""

    namespace = "dits"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def get(self, resource: str, name: str, *, subresource: str | None = None) -> dict[str, Any]:
        body = self.answers[resource]
        if not isinstance(body, dict):
            raise DitsopsError("not an object")  # what KubeClient.request says about it
        return kube_object(body, resource, f'{resource} "{name}"', subresource)

    def list(self, resource: str, **_: Any) -> list[dict[str, Any]]:
        body = {"items": self.answers[f"{resource}-list"]}
        return kube_page(body, resource, resource)[0]


def exercise(client: FakeKube) -> None:
    from ditsops.core import kube
    from ditsops.core.lease import lease_free, lease_holder
    from ditsops.core.rollout import plan_restart, plan_scale, plan_set_env, plan_undo, rollout_status

    kube.status(client, None, None)  # type: ignore[arg-type]
    kube.status(client, "dits-server", None)  # type: ignore[arg-type]
    kube.events(client, "dits")  # type: ignore[arg-type]
    deployment = client.get("deployments", "dits-server")
    kube.history(client, deployment)  # type: ignore[arg-type]
    rollout_status(deployment)
    plan_scale(client, "dits-server", 4)  # type: ignore[arg-type]
    plan_restart(client, "dits-server")  # type: ignore[arg-type]
    plan_set_env(client, "dits-server", {"A": "2"})  # type: ignore[arg-type]
    plan_undo(client, "dits-server")  # type: ignore[arg-type]
    from ditsops.core.jobs import job_state, plan_create_job

    plan_create_job(client, "nightly").containers()  # type: ignore[arg-type]
    job_state(client.get("jobs", "nightly-manual-x"))
    lease = client.get("leases", "ditsops-dits-server")
    lease_holder(lease).describe()
    lease_free(lease, __import__("datetime").datetime.now(__import__("datetime").UTC))


@pytest.mark.parametrize(
    "target", ["deployments", "replicasets-list", "pods-list", "events-list", "leases", "cronjobs", "jobs"]
)
@settings(max_examples=30)
@given(data=st.data())
def test_kubernetes_answers_mutated_anywhere_end_in_a_ditsops_error_at_worst(target, data):
    answers: dict[str, Any] = {
        "deployments": DEPLOYMENT,
        "deployments-list": [DEPLOYMENT],
        "replicasets-list": [REPLICASET, copy.deepcopy(REPLICASET) | {"metadata": DEPLOYMENT["metadata"]}],
        "pods-list": [POD],
        "events-list": [EVENT],
        "leases": LEASE,
        "cronjobs": CRONJOB,
        "jobs": JOB,
    }
    answers[target] = mutate(answers[target], data)
    if target == "deployments":
        answers["deployments-list"] = [answers["deployments"]]
    try:
        exercise(FakeKube(answers))
    except DitsopsError:
        pass  # one line and an exit code: what a wrong answer may cost


# -- runbook text fields ---------------------------------------------------------------------------

HOSTILE_BITS = st.sampled_from(
    ["\x1b[2J", "\x1b]52;c;ZXZpbA==\x07", "\x9b31m", "\u202e", "\u2066", "\u200f"]
    + ["[red]", "[/]", "[link=x]", "\\", "\n"]
)
TEXT = st.lists(
    st.one_of(HOSTILE_BITS, st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)), max_size=6
).map("".join)
RAW = ("\x1b", "\x9b", "\u202e", "\u2066", "\u200f", "\x07")


@settings(max_examples=40)
@given(title=TEXT, summary=TEXT, why=TEXT, note=TEXT, description=TEXT, say=TEXT, value=TEXT)
def test_runbook_text_fields_of_any_characters_render_escaped(
    tmp_path_factory, title, summary, why, note, description, say, value
):
    from rich.console import Console

    from ditsops.base.errors import RunbookError
    from ditsops.core.loader import load_runbook
    from ditsops.render.console import THEME
    from ditsops.render.report import markdown_report
    from ditsops.render.runbook import render_escalation, render_header, render_runbook_show, render_step_started

    doc = {
        "name": "fuzzed",
        "title": title or "t",
        "summary": summary,
        "params": {"msg": {"type": "string", "default": "x", "description": description}},
        "escalation": [{"after": "15m", "say": say or "s"}],
        "steps": [{"id": "a", "title": (title or "t") + " {{ msg }}", "why": why, "note": note or "n"}],
    }
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    try:
        book = load_runbook(path)
    except RunbookError:
        return
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None, force_terminal=False, theme=THEME)
    render_runbook_show(console, book)
    render_header(console, book, {"msg": value}, [("file", str(path))])
    step = book.steps[0]
    render_step_started(console, step, 1, 1, note + value)
    render_escalation(console, book.escalation[0], 60.0)
    shown = out.getvalue()
    report = markdown_report(
        [{"event": "run-start", "title": title, "params": {"msg": value}}, {"event": "step", "query": note + value}],
        "r1",
    )
    for raw in RAW:
        assert raw not in shown, f"{raw!r} reached the terminal"
        assert raw not in report, f"{raw!r} reached the report"
    assert report.splitlines()[0].startswith("# ")
    assert len([line for line in report.splitlines() if line.startswith("# ")]) == 1  # the title stayed one line
