"""How Kubernetes failures reach the engineer: one line naming what failed, the right
exit code, no traceback, and nothing changed.

Everything runs against the real in-memory API over HTTP. Only failures that are hard to
produce for real (403, 409, 500, a timeout in the middle of an action) are injected, by
replacing the official client's `ApiClient.call_api` for matching requests; every other
request goes through to the server. 404, connection refused and a read timeout are real.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.rest import RESTResponse
from typer.testing import CliRunner

from ditsops.cli.main import app
from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli

NS = "dits"
GOOD = "registry.dits.dev/dits-server:1.4.2"
BAD = "registry.dits.dev/dits-server:1.5.0"
FORBIDDEN = (
    'deployments.apps "dits-server" is forbidden: User "oncall" cannot patch resource "deployments" '
    'in API group "apps" in the namespace "dits"'
)
MODIFIED = (
    'Operation cannot be fulfilled on deployments.apps "dits-server": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(ready_delay=0.1) as api:
        api.seed_dits()
        yield api


@pytest.fixture
def kubeconfig(server: KubeAPIServer, tmp_path: Path, isolated_home, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = server.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def ditsops(*args: str):
    """The command in this process, so the patched transport is the one it uses."""
    return CliRunner(env={"COLUMNS": "400"}).invoke(app, list(args))  # no wrapping of long messages


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": "dits-server", "group": "apps", "kind": "deployments"},
        "code": code,
    }


def response(code: int, reason: str, message: str) -> RESTResponse:
    raw = urllib3.HTTPResponse(
        body=json.dumps(status_body(code, reason, message)).encode(),
        status=code,
        headers={"Content-Type": "application/json"},
        preload_content=True,
    )
    return RESTResponse(raw)


@dataclass
class Fault:
    method: str
    path: str  # the URL path must end with this
    outcomes: list[Any]  # per matching request: a RESTResponse, an exception to raise, or a callable making one
    dry_run: bool | None = None  # only requests with (True) or without (False) dryRun=All
    seen: int = 0


@dataclass
class Transport:
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, method: str, path: str, *outcomes: Any, dry_run: bool | None = None) -> Fault:
        fault = Fault(method, path, list(outcomes), dry_run)
        self.faults.append(fault)
        return fault

    def count(self, method: str, path: str, *, dry_run: bool | None = None) -> int:
        return sum(1 for m, url in self.calls if m == method and _matches(url, path, dry_run))


def _matches(url: str, path: str, dry_run: bool | None) -> bool:
    parsed = urllib3.util.parse_url(url)
    if not (parsed.path or "").endswith(path):
        return False
    return dry_run is None or ("dryRun=All" in (parsed.query or "")) == dry_run


@pytest.fixture
def transport(mocker, kubeconfig) -> Transport:
    """Requests matching a fault get its next outcome; the rest reach the real server."""
    real = ApiClient.call_api
    state = Transport()

    def call_api(self, method, url, *args, **kwargs):
        state.calls.append((method, url))
        for fault in state.faults:
            if method == fault.method and _matches(url, fault.path, fault.dry_run) and fault.outcomes:
                fault.seen += 1
                outcome = fault.outcomes.pop(0)
                if callable(outcome):
                    outcome = outcome()
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
        return real(self, method, url, *args, **kwargs)

    mocker.patch.object(ApiClient, "call_api", autospec=True, side_effect=call_api)
    return state


def deployment(server: KubeAPIServer) -> dict[str, Any]:
    return server.get("deployments", NS, "dits-server")


def unchanged(server: KubeAPIServer) -> tuple[Any, ...]:
    d = deployment(server)
    return d["metadata"]["resourceVersion"], d["metadata"]["generation"], d["spec"]


def bad_deploy(server: KubeAPIServer) -> None:
    d = deployment(server)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = BAD
    server.store.update("deployments", d, NS)
    server.wait_for_rollout(NS, "dits-server")
    assert server.settle()


def error_lines(text: str) -> list[str]:
    """Each distinct error message once, labelled as the step line shows it when there is
    one: an action's failure is its step line on stdout and the same line on stderr."""
    messages: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith(("ditsops:", "✖ error:")):
            prefix, message = line.split(":", 1)
            messages.setdefault(message.strip(), set()).add(prefix)
    return [f"✖ error: {m}" if "✖ error" in p else f"ditsops: {m}" for m, p in messages.items()]


DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/dits/deployments/dits-server"


# -- 403 and 404 -------------------------------------------------------------------------------


def test_forbidden_patch_names_the_verb_and_the_object(server, transport) -> None:
    bad_deploy(server)
    before = unchanged(server)
    transport.fail("PATCH", DEPLOYMENT_PATH, response(403, "Forbidden", FORBIDDEN))
    result = ditsops("k8s", "undo", "dits-server", "--yes")
    assert result.exit_code == 1, result.output
    assert error_lines(result.output) == [
        f'✖ error: forbidden: you may not patch deployments.apps "dits-server" in namespace dits: {FORBIDDEN}'
    ]
    assert "Traceback" not in result.output
    assert unchanged(server) == before


def test_forbidden_read_is_one_line_on_stderr(server, transport) -> None:
    message = (
        'deployments.apps "dits-server" is forbidden: User "oncall" cannot get resource "deployments" '
        'in API group "apps" in the namespace "dits"'
    )
    transport.fail("GET", DEPLOYMENT_PATH, response(403, "Forbidden", message))
    result = ditsops("k8s", "status", "dits-server")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f'ditsops: forbidden: you may not get deployments.apps "dits-server" in namespace dits: {message}'
    ]
    assert result.stdout == ""


def test_missing_deployment_is_named(server, kubeconfig) -> None:
    result = ditsops("k8s", "status", "nope")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == ['ditsops: deployments.apps "nope" not found in namespace dits (sandbox)']
    result = ditsops("k8s", "scale", "nope", "--replicas", "2", "--yes")
    assert result.exit_code == 1, result.output
    assert error_lines(result.output) == ['✖ error: deployments.apps "nope" not found in namespace dits (sandbox)']


# -- 500 and timeouts: the target is unreachable (exit 4) ------------------------------------------


def test_server_error_on_a_read_exits_4(server, transport) -> None:
    transport.fail("GET", DEPLOYMENT_PATH, response(500, "InternalError", "etcdserver: request timed out"))
    result = ditsops("k8s", "status", "dits-server")
    assert result.exit_code == 4, result.output
    assert result.stderr.splitlines() == [
        f"ditsops: the Kubernetes API at {server.url} failed: HTTP 500 etcdserver: request timed out"
    ]


def test_server_error_when_applying_exits_4_and_changes_nothing(server, transport) -> None:
    bad_deploy(server)
    before = unchanged(server)
    fault = transport.fail(
        "PATCH", DEPLOYMENT_PATH, response(500, "InternalError", "etcdserver: leader changed"), dry_run=False
    )
    result = ditsops("k8s", "undo", "dits-server", "--yes")
    assert result.exit_code == 4, result.output
    assert fault.seen == 1 and transport.count("PATCH", DEPLOYMENT_PATH, dry_run=True) == 1  # previewed, then failed
    assert error_lines(result.output) == [
        f"✖ error: the Kubernetes API at {server.url} failed: HTTP 500 etcdserver: leader changed"
    ]
    assert unchanged(server) == before


@pytest.mark.parametrize(
    "error",
    [
        urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out. (read timeout=15.0)"),
        urllib3.exceptions.ConnectTimeoutError(None, "Connection to 127.0.0.1 timed out. (connect timeout=15.0)"),
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
    ],
    ids=["read-timeout", "connect-timeout", "connection-reset"],
)
def test_transport_failure_in_the_middle_of_an_action_exits_4(server, transport, error) -> None:
    bad_deploy(server)
    before = unchanged(server)
    transport.fail("PATCH", DEPLOYMENT_PATH, error, dry_run=False)
    result = ditsops("k8s", "undo", "dits-server", "--yes")
    assert result.exit_code == 4, result.output
    [line] = error_lines(result.output)
    assert line.startswith(f"✖ error: cannot reach the Kubernetes API at {server.url}: ")
    assert "Traceback" not in result.output
    assert unchanged(server) == before


def test_real_read_timeout_exits_4(tmp_path, isolated_home) -> None:
    """A server that accepts the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        config = write_kubeconfig(tmp_path, port)
        done = run_cli(
            "k8s", "status", "dits-server", env={"KUBECONFIG": str(config), "DITSOPS_HTTP_TIMEOUT": "1"}, timeout=30
        )
    assert done.returncode == 4, done.stdout + done.stderr
    expected = f"ditsops: cannot reach the Kubernetes API at http://127.0.0.1:{port}: timed out"
    assert done.stderr.splitlines() == [expected]


def test_a_silent_api_server_costs_one_timeout_not_four(tmp_path, isolated_home) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = write_kubeconfig(tmp_path, silent.getsockname()[1])
        # The same command's start-up and failure without a server, measured in this run:
        # what a loaded machine adds is in both, so the difference is the waiting alone.
        began = time.monotonic()
        run_cli("k8s", "status", "dits-server", env={"KUBECONFIG": str(write_kubeconfig(tmp_path, closed_port()))})
        baseline = time.monotonic() - began
        began = time.monotonic()
        done = run_cli(
            "k8s", "status", "dits-server", env={"KUBECONFIG": str(config), "DITSOPS_HTTP_TIMEOUT": "2"}, timeout=30
        )
        waited = time.monotonic() - began - baseline
    assert done.returncode == 4
    # One 2 s timeout, not four of them (urllib3 retries would make it 8 s).
    assert waited < 3 * 2, f"waited {waited:.1f}s beyond start-up with a 2s timeout"


# -- connection refused: real -------------------------------------------------------------------


def write_kubeconfig(tmp_path: Path, port: int) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "gone", "user": {}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone", "namespace": NS}}],
        "current-context": "gone",
    }
    path = tmp_path / "kubeconfig-gone"
    path.write_text(json.dumps(config))
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "args",
    [
        ("k8s", "status", "dits-server"),
        ("k8s", "logs", "-l", "app=dits-server"),
        ("k8s", "undo", "dits-server", "--yes"),
    ],
    ids=["status", "logs", "undo"],
)
def test_connection_refused_exits_4_with_one_line(tmp_path, isolated_home, args) -> None:
    port = closed_port()
    done = run_cli(*args, env={"KUBECONFIG": str(write_kubeconfig(tmp_path, port))}, timeout=30)
    assert done.returncode == 4, done.stdout + done.stderr
    expected = f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: Connection refused"
    assert "Traceback" not in done.stdout + done.stderr
    if args[1] == "undo":  # inside the one-step runbook: the step fails, the run ends with 4
        assert error_lines(done.stdout) == [f"✖ error: {expected}"]
    else:
        assert done.stderr.splitlines() == [f"ditsops: {expected}"]


# -- 409 on scale --current-replicas: retried like kubectl ---------------------------------------------


def test_conflict_on_guarded_scale_is_retried(server, transport) -> None:
    scale = DEPLOYMENT_PATH + "/scale"
    fault = transport.fail("PUT", scale, response(409, "Conflict", MODIFIED))
    result = ditsops("k8s", "scale", "dits-server", "--replicas", "5", "--current-replicas", "3", "--yes")
    assert result.exit_code == 0, result.output
    assert fault.seen == 1
    assert transport.count("PUT", scale) == 2  # the conflicting one, then the one that went through
    assert transport.count("GET", scale) == 2  # the precondition re-read before each attempt
    assert deployment(server)["spec"]["replicas"] == 5
    assert re.search(r"applied: scaled", result.output), result.output


def test_conflict_retry_still_checks_the_precondition(server, transport) -> None:
    """Someone else scaled to 4 between our attempts: the retry re-reads and refuses."""
    scale = DEPLOYMENT_PATH + "/scale"

    def someone_scales() -> RESTResponse:
        d = deployment(server)
        d["spec"]["replicas"] = 4
        server.store.update("deployments", d, NS)
        return response(409, "Conflict", MODIFIED)

    fault = transport.fail("PUT", scale, someone_scales)
    result = ditsops("k8s", "scale", "dits-server", "--replicas", "5", "--current-replicas", "3", "--yes")
    # The state moved since the preview: without a terminal that is a refusal (exit 5).
    assert result.exit_code == 5, result.output
    assert fault.seen == 1 and transport.count("PUT", scale) == 1  # no second write
    assert "replicas: 3 -> 5 previewed; now 4 (changed by someone else)" in " ".join(result.output.split())
    assert deployment(server)["spec"]["replicas"] == 4
