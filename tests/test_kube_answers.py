"""A Kubernetes API (or anything that answers in its place) that sends the wrong thing:
each answer is checked like Prometheus' (one line naming the place, exit 4), paging
cannot loop, and names and namespaces are DNS-1123 however they are written."""

from __future__ import annotations

import json

import pytest

from tests.bounds_fixtures import ScriptedServer, json_answer, kubeconfig_for, scripted  # noqa: F401
from tests.cli import run_cli

DEPLOYMENTS = "/apis/apps/v1/namespaces/dits/deployments"
EVENTS = "/api/v1/namespaces/dits/events"
GOOD_DEPLOYMENT = {
    "metadata": {"name": "dits-server", "namespace": "dits", "uid": "u1", "generation": 1},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "dits-server"}},
        "template": {"metadata": {"labels": {"app": "dits-server"}}, "spec": {"containers": [{"name": "s"}]}},
    },
    "status": {"observedGeneration": 1},
}


def with_(path: str, value: object) -> dict:
    """GOOD_DEPLOYMENT with the field at dotted `path` replaced."""
    document = json.loads(json.dumps(GOOD_DEPLOYMENT))
    *parents, last = path.split(".")
    place = document
    for key in parents:
        place = place[key]
    place[last] = value
    return document


def serve(scripted, answers: dict[str, object]) -> ScriptedServer:  # noqa: F811
    def script(path: str):
        bare = path.split("?", 1)[0]
        if bare in answers:
            found = answers[bare]
            return found(path) if callable(found) else json_answer(found)
        return json_answer({"items": [], "metadata": {}})

    return scripted(script)


def ditsops(server: ScriptedServer, tmp_path, *args: str):
    config = kubeconfig_for(server.url, tmp_path)
    return run_cli(*args, env={"KUBECONFIG": str(config), "DITSOPS_HTTP_TIMEOUT": "5"}, timeout=60)


def one_line(done) -> str:
    assert "Traceback" not in done.stdout + done.stderr
    assert "internal error" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("document", "place"),
    [
        ({"items": [with_("metadata", [])]}, "items[0].metadata is not an object"),
        ({"items": [with_("spec.replicas", "3")]}, "items[0].spec.replicas is not a whole number"),
        ({"items": [with_("spec.template", None)]}, "items[0].spec.template is not an object"),
        ({"items": [{"metadata": {"name": "x"}}]}, "items[0].spec is missing"),
        ({"items": [with_("status.conditions", {"type": "x"})]}, "items[0].status.conditions is not a list"),
        ({"items": [with_("metadata.labels", {"app": 1})]}, "items[0].metadata.labels is not an object of text"),
        ({"items": "none"}, "items is not a list"),
        ({"items": [], "metadata": {"continue": 7}}, "metadata.continue is not text"),
        (GOOD_DEPLOYMENT, "items is not a list (the answer is not a list)"),
        ([GOOD_DEPLOYMENT], "the document is not an object"),
    ],
    ids=[
        "metadata-list",
        "replicas-text",
        "template-null",
        "spec-missing",
        "conditions-object",
        "label-number",
        "items-text",
        "continue-number",
        "not-a-list",
        "json-list",
    ],
)
def test_a_wrong_shaped_list_is_one_line_naming_the_place_exit_4(scripted, tmp_path, document, place):  # noqa: F811
    server = serve(scripted, {DEPLOYMENTS: document})
    done = ditsops(server, tmp_path, "k8s", "status")
    assert done.returncode == 4, done.stdout + done.stderr
    line = one_line(done)
    assert line.startswith("ditsops: the Kubernetes API answered an unexpected document: "), line
    assert place in line, line
    assert "No deployments" not in done.stdout


def test_an_answer_that_is_not_json_is_one_line_exit_4(scripted, tmp_path):  # noqa: F811
    server = scripted(lambda path: (200, {"Content-Type": "application/json", "Content-Length": "8"}, [b"<html>oh"]))
    done = ditsops(server, tmp_path, "k8s", "status", "dits-server")
    assert done.returncode == 4
    assert "the answer is not JSON" in one_line(done)


def test_a_wrong_shaped_object_read_by_name_is_one_line_exit_4(scripted, tmp_path):  # noqa: F811
    server = serve(scripted, {f"{DEPLOYMENTS}/dits-server": with_("status.observedGeneration", None)})
    done = ditsops(server, tmp_path, "k8s", "history", "dits-server")
    assert done.returncode == 4
    assert 'deployments.apps "dits-server".status.observedGeneration is not a whole number' in one_line(done)


@pytest.mark.parametrize("command", [("k8s", "status"), ("k8s", "events")], ids=["status", "events"])
def test_a_continue_token_that_comes_back_stops_the_listing(scripted, tmp_path, command):  # noqa: F811
    page = {"items": [], "metadata": {"continue": "again"}}
    server = serve(scripted, {DEPLOYMENTS: page, EVENTS: page})
    done = ditsops(server, tmp_path, *command)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "the same continue token came twice" in one_line(done)
    assert len(server.requests) == 2  # the first page, the one that repeated its token


def test_a_listing_that_never_ends_stops_after_the_page_limit(scripted, tmp_path):  # noqa: F811
    from ditsops.clients.kube import MAX_PAGES

    counter = iter(range(10**9))
    server = serve(
        scripted, {EVENTS: lambda path: json_answer({"items": [], "metadata": {"continue": f"t{next(counter)}"}})}
    )
    done = ditsops(server, tmp_path, "k8s", "events")
    assert done.returncode == 4
    assert f"still more after {MAX_PAGES} pages" in one_line(done)
    assert len(server.requests) == MAX_PAGES


# -- names and namespaces: DNS-1123 to the end of the string -------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("k8s", "undo", "dits-server\n", "--yes"),
        ("k8s", "scale", "dits-server\n", "--replicas", "2", "--yes"),
        ("k8s", "-n", "dits\n", "status"),
        ("k8s", "-n", "dits\n", "events"),
        ("k8s", "-n", "dits\n", "logs", "-l", "app=x"),
        ("k8s", "-n", "../kube-system", "history", "dits-server"),
        ("k8s", "history", "dits-server\n"),
        ("k8s", "status", "dits-server\n"),
    ],
    ids=["undo", "scale", "ns-status", "ns-events", "ns-logs", "ns-climb", "history", "status"],
)
def test_a_trailing_newline_or_a_bad_namespace_is_refused_before_any_request(scripted, tmp_path, args):  # noqa: F811
    server = serve(scripted, {})
    done = ditsops(server, tmp_path, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a DNS-1123" in done.stdout + done.stderr
    assert server.requests == []


def test_a_namespace_from_the_environment_is_checked_too(scripted, tmp_path):  # noqa: F811
    server = serve(scripted, {})
    config = kubeconfig_for(server.url, tmp_path)
    done = run_cli("k8s", "status", env={"KUBECONFIG": str(config), "DITSOPS_NAMESPACE": "dits\n"}, timeout=60)
    assert done.returncode == 2
    assert "DITSOPS_NAMESPACE" in one_line(done)
    assert server.requests == []


def test_a_namespace_from_the_kubeconfig_is_checked_too(scripted, tmp_path):  # noqa: F811
    server = serve(scripted, {})
    config = kubeconfig_for(server.url, tmp_path, namespace="dits\nx")
    done = run_cli("k8s", "status", env={"KUBECONFIG": str(config)}, timeout=60)
    assert done.returncode == 2
    assert "namespace of kube context 'hostile'" in one_line(done)
    assert server.requests == []


def test_a_trailing_newline_passes_no_validator():
    """`$` in a Python regex matches before a final newline; every validator ends at `\\Z`."""
    from ditsops.base.durations import parse_duration
    from ditsops.core.jobs import check_name
    from ditsops.core.names import label_problem, subdomain_problem
    from ditsops.core.params import ParamSpec, convert

    assert label_problem("dits\n") and subdomain_problem("dits-server\n")
    with pytest.raises(ValueError):
        convert(ParamSpec("p", "name"), "dits-server\n")
    assert parse_duration(" 5m\n").total_seconds() == 300  # stripped on purpose: only the number is used
    with pytest.raises(ValueError):  # the command turns it into a usage error (exit 2)
        check_name("nightly\n", "--from-cronjob")


def test_a_parameter_name_with_a_trailing_newline_fails_lint(tmp_path, isolated_home):
    import yaml

    path = tmp_path / "odd.yaml"
    book = {"name": "odd", "title": "t", "params": {"a\n": {"type": "string"}}, "steps": [{"id": "a", "title": "A"}]}
    book["steps"][0]["note"] = "n"
    path.write_text(yaml.safe_dump(book))
    done = run_cli("runbook", "lint", str(path))
    assert done.returncode == 2
    assert "must be an identifier" in done.stdout + done.stderr
