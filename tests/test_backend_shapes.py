"""Malformed backend answers, written as the attack: a loopback server (a broken proxy, a
different API version) answers well-formed JSON of the wrong shape, or 502. Every command
says so in one line naming the service, exits 4, and never shows a traceback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ditsops.base.errors import ExitCode, TargetUnreachable
from ditsops.clients import shapes
from tests.cli import run_cli


class Backend:
    """Answers every GET and POST with the (status, body) set for its path."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, str]] = {}
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                status, body, kind = backend.answers.get(path, (404, '{"status":"error","error":"no"}', "json"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if kind == "json" else "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, body: object, status: int = 200) -> None:
        if isinstance(body, str) and status >= 500:
            self.answers[path] = (status, body, "html")
        else:
            self.answers[path] = (status, json.dumps(body), "json")


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def env(backend: Backend, isolated_home) -> dict[str, str]:
    return {
        "DITSOPS_PROMETHEUS_URL": backend.url,
        "DITSOPS_ALERTMANAGER_URL": backend.url,
        "DITSOPS_HTTP_TIMEOUT": "5",
    }


def one_line_exit_4(done, service: str) -> str:
    assert done.returncode == ExitCode.UNREACHABLE, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert service in lines[0], lines[0]
    return lines[0]


QUERY_SHAPES = [
    (
        {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1]}]}},
        "data.result[0].value is not a [time, value] pair",
    ),
    (
        {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": "1"}]}},
        "data.result[0].value is not a [time, value] pair",
    ),
    ({"status": "success", "data": {"resultType": "vector", "result": [[1, "2"]]}}, "data.result[0] is not an object"),
    ({"status": "success", "data": {"resultType": "scalar", "result": []}}, "data.result is not a [time, value] pair"),
    (
        {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": [], "values": []}]}},
        "data.result[0].metric is not an object of text values",
    ),
    (
        {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, {}]]}]}},
        "data.result[0].values[0] is not a [time, value] pair",
    ),
    ({"status": "success", "data": {"resultType": "vector", "result": {"a": 1}}}, "data.result is not a list"),
    ({"status": "success", "data": {"resultType": "tensor", "result": []}}, "data.resultType is not one of"),
    ({"status": "success", "data": []}, "data is not an object"),
    ({"status": "success"}, "data is not an object"),
    ([1, 2, 3], "the document is not an object"),
    ("success", "the document is not an object"),
    (None, "the document is not an object"),
]


@pytest.mark.parametrize(("document", "problem"), QUERY_SHAPES)
def test_query_shapes_name_the_place(document, problem):
    with pytest.raises(shapes.UnexpectedAnswer) as caught:
        shapes.prom_query(document)
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert f"Prometheus answered an unexpected document: {problem}" in caught.value.message


@pytest.mark.parametrize(("document", "problem"), QUERY_SHAPES[:3] + QUERY_SHAPES[-3:-2])
def test_prom_query_wrong_shape_is_one_line_exit_4(backend, env, document, problem):
    backend.answer("/api/v1/query", document)
    line = one_line_exit_4(run_cli("prom", "query", "up", env=env), "Prometheus")
    assert f"Prometheus answered an unexpected document: {problem}" in line


def test_prom_query_not_json_is_one_line_exit_4(backend, env):
    backend.answers["/api/v1/query"] = (200, "<html>proxy login</html>", "html")
    one_line_exit_4(run_cli("prom", "query", "up", env=env), "Prometheus")


def test_prom_query_502_exits_4(backend, env):
    backend.answer("/api/v1/query", "<html>502 Bad Gateway</html>", status=502)
    one_line_exit_4(run_cli("prom", "query", "up", env=env), "Prometheus")


ALERT_SHAPES = [
    ({"not": "a list"}, "the document is not a list"),
    ([1], "[0] is not an object"),
    ([{"labels": ["alertname"]}], "[0].labels is not an object of text values"),
    ([{"labels": {"alertname": 5}}], "[0].labels is not an object of text values"),
    ([{"labels": {"alertname": "A"}, "status": "active"}], "[0].status is not an object"),
    (
        [{"labels": {"alertname": "A"}, "status": {"state": "active", "silencedBy": "x"}}],
        "[0].status.silencedBy is not a list of text",
    ),
    ([{"labels": {"alertname": "A"}, "startsAt": "yesterday"}], "[0].startsAt is not an RFC 3339 time"),
    ([{"labels": {"alertname": "A"}, "startsAt": "2024-13-45T99:00:00Z"}], "[0].startsAt is not an RFC 3339 time"),
]


@pytest.mark.parametrize(("document", "problem"), ALERT_SHAPES)
def test_alert_shapes_name_the_place(document, problem):
    with pytest.raises(shapes.UnexpectedAnswer) as caught:
        shapes.am_alerts(document)
    assert f"Alertmanager answered an unexpected document: {problem}" in caught.value.message


@pytest.mark.parametrize(("document", "problem"), ALERT_SHAPES[::3])
def test_alerts_wrong_shape_is_one_line_exit_4(backend, env, document, problem):
    backend.answer("/api/v2/alerts", document)
    line = one_line_exit_4(run_cli("alerts", env=env), "Alertmanager")
    assert f"Alertmanager answered an unexpected document: {problem}" in line


def test_alerts_502_exits_4_like_prometheus(backend, env):
    backend.answer("/api/v2/alerts", "<html>502 Bad Gateway</html>", status=502)
    line = one_line_exit_4(run_cli("alerts", env=env), "Alertmanager")
    assert "502" in line


def test_alertmanager_json_500_exits_4(backend, env):
    backend.answer("/api/v2/silences", {"code": 500, "message": "internal"}, status=500)
    one_line_exit_4(run_cli("silence", "list", env=env), "Alertmanager")


def test_prometheus_alerts_wrong_shape_exit_4(backend, isolated_home):
    backend.answer("/api/v1/alerts", {"status": "success", "data": {"alerts": [{"labels": None}]}})
    done = run_cli("alerts", env={"DITSOPS_PROMETHEUS_URL": backend.url})
    line = one_line_exit_4(done, "Prometheus")
    assert "data.alerts[0].labels is not an object of text values" in line


SILENCE_SHAPES = [
    ({"silences": []}, "the document is not a list"),
    ([{"status": {"state": "active"}}], "[0].id is not text"),
    ([{"id": "x", "matchers": [{"name": "a"}]}], "[0].matchers[0].value is not text"),
    (
        [{"id": "x", "matchers": [{"name": "a", "value": "b", "isRegex": "yes"}]}],
        "[0].matchers[0].isRegex is not true or false",
    ),
    ([{"id": "x", "matchers": {}}], "[0].matchers is not a list"),
    ([{"id": "x", "endsAt": 12}], "[0].endsAt is not an RFC 3339 time"),
    ([{"id": "x", "status": []}], "[0].status is not an object"),
]


@pytest.mark.parametrize(("document", "problem"), SILENCE_SHAPES)
def test_silence_shapes_name_the_place(document, problem):
    with pytest.raises(shapes.UnexpectedAnswer) as caught:
        shapes.am_silences(document)
    assert f"Alertmanager answered an unexpected document: {problem}" in caught.value.message


@pytest.mark.parametrize(("document", "problem"), SILENCE_SHAPES[::3])
def test_silence_list_wrong_shape_is_one_line_exit_4(backend, env, document, problem):
    backend.answer("/api/v2/silences", document)
    line = one_line_exit_4(run_cli("silence", "list", env=env), "Alertmanager")
    assert f"Alertmanager answered an unexpected document: {problem}" in line


def test_silence_list_502_exits_4(backend, env):
    backend.answer("/api/v2/silences", "<html>502 Bad Gateway</html>", status=502)
    one_line_exit_4(run_cli("silence", "list", env=env), "Alertmanager")


def test_well_formed_answers_still_read(backend, env):
    backend.answer(
        "/api/v1/query",
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {"job": "a"}, "value": [1, "2"]}]},
        },
    )
    done = run_cli("prom", "query", "up", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    backend.answer(
        "/api/v2/silences",
        [
            {
                "id": "s1",
                "status": {"state": "active"},
                "matchers": [{"name": "a", "value": "b", "isRegex": False}],
                "startsAt": "2026-01-01T00:00:00.123456789Z",
                "endsAt": "2026-01-01T01:00:00Z",
                "createdBy": "me",
                "comment": "why",
            }
        ],
    )
    done = run_cli("silence", "list", env=env)
    assert done.returncode == 0, done.stderr


def test_checks_never_quote_values():
    """Messages name the place, not what was there (an answer may echo a label or a token)."""
    with pytest.raises(TargetUnreachable) as caught:
        shapes.am_alerts([{"labels": {"alertname": "A", "secret": ["hunter2"]}}])
    assert "hunter2" not in caught.value.message
    assert caught.value.exit_code == ExitCode.UNREACHABLE
