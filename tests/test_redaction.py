"""Secrets never shown in URLs: config show, health, run headers, error lines, records.

The redactor is tested with hostile inputs (passwords holding '@', ':' and '/', tokens
as userinfo, secret query parameters in any case, conninfo quoting), then the commands
as an engineer meets them: a table at 80 columns, JSON, an error line.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
from pathlib import Path

import pytest

from ditsops.base.secrets import MASK, password_of, redact_dsn, redact_text, redact_url
from tests.cli import run_cli
from tests.httpcapture import CapturingServer

HOSTILE_URLS = [
    # (url, what must be shown, the secret that must not)
    ("http://admin:PromSecret123@prom:9090", "http://admin:***@prom:9090", "PromSecret123"),
    ("postgresql://postgres:p@ss@Secret@db:5432/dits", "postgresql://postgres:***@db:5432/dits", "Secret"),
    ("postgresql://u:a:b:c@db/dits", "postgresql://u:***@db/dits", "a:b:c"),
    ("postgresql://u:pa/ss/wd@db:5432/dits", "postgresql://u:***@db:5432/dits", "pa/ss/wd"),
    ("postgresql://u:x@y:z/w@v@db:5432/dits?sslmode=require", "postgresql://u:***@db:5432/dits?sslmode=require", "x@y"),
    ("https://ghp_TokenAsUser@git.example/x", "https://***@git.example/x", "ghp_TokenAsUser"),
    ("https://u:%40enc%3Aoded@h/", "https://u:***@h/", "enc"),
    ("http://h:9090/api?query=up&token=T0k3n&step=1", "http://h:9090/api?query=up&token=***&step=1", "T0k3n"),
    ("http://h/?PASSWORD=Pw1&Api_Key=K3y#f", "http://h/?PASSWORD=***&Api_Key=***#f", "Pw1"),
    ("http://h/x?access_token=AT1;secret=S3", "http://h/x?access_token=***;secret=***", "AT1"),
    ("http://h/x?passwd=a&pass=b&key=c&auth=d", "http://h/x?passwd=***&pass=***&key=***&auth=***", "passwd=a"),
    ("http://h/x?monkey=fine&tokens=fine", "http://h/x?monkey=fine&tokens=fine", "***"),
]


@pytest.mark.parametrize(("url", "shown", "secret"), HOSTILE_URLS)
def test_redact_url_hostile(url, shown, secret) -> None:
    assert redact_url(url) == shown
    if secret != "***":
        assert secret not in redact_url(url)


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("host=db user=ops password=se@cr:et/x dbname=dits", "host=db user=ops password=*** dbname=dits"),
        ("host=db password='it''s a @:/ secret' dbname=dits", "host=db password=*** dbname=dits"),
        ("host=db password = 'a\\' b' port=5432", "host=db password = *** port=5432"),
        ("host=db sslpassword=KeyPw user=u", "host=db sslpassword=*** user=u"),
        ("postgresql://ops:Sec@ret:1/2@db.prod:5432/dits", "postgresql://ops:***@db.prod:5432/dits"),
        ("postgresql:///dits?host=/run/pg&password=Pw9", "postgresql:///dits?host=/run/pg&password=***"),
    ],
)
def test_redact_dsn_hostile(dsn, shown) -> None:
    assert redact_dsn(dsn) == shown


def test_password_of_takes_everything_before_the_last_at() -> None:
    assert password_of("postgresql://postgres:p@ss:w/rd@Secret@db:5432/dits") == "p@ss:w/rd@Secret"
    assert password_of("host=db password='it''s' user=u") == "it's"
    assert password_of("postgresql://u:a%40b@db/x") == "a@b"


def test_redact_text_finds_urls_queries_and_tokens_in_free_text() -> None:
    text = (
        "cannot reach http://u:Pw@Secret@h:1/x?token=T0k: refused; GET /api?api_key=K1&x=1 "
        "Authorization: Bearer abc.def and Authorization: Basic YWRtaW46cHc="
    )
    out = redact_text(text)
    for secret in ("Pw@Secret", "Secret", "T0k", "K1", "abc.def", "YWRtaW46cHc="):
        assert secret not in out, out
    assert "http://u:***@h:1/x?token=***" in out and "x=1" in out


def test_known_secrets_are_scrubbed_whatever_their_shape() -> None:
    assert (
        redact_text("it failed: p?ss#w0rd in the reply", frozenset({"p?ss#w0rd"})) == f"it failed: {MASK} in the reply"
    )


# -- the commands -------------------------------------------------------------------------------

SECRETS = ("PromSecret123", "AmSecret456", "DitsSecret789", "Pg@Sec:ret/1", "BearerTok")


@pytest.fixture
def hostile_env(isolated_home) -> dict[str, str]:
    return {
        "DITSOPS_PROMETHEUS_URL": "http://admin:PromSecret123@127.0.0.1:9/prom?token=BearerTok",
        "DITSOPS_ALERTMANAGER_URL": "http://admin:AmSecret456@127.0.0.1:9",
        "DITSOPS_DITS_URL": "http://ops:DitsSecret789@127.0.0.1:9",
        "DITSOPS_DSN": "postgresql://postgres:Pg@Sec:ret/1@db.example:5432/dits",
        "COLUMNS": "80",
    }


def clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in:\n{text}"
    for tail in ("Sec:ret", "ret/1@", "@Sec"):
        assert tail not in text, f"{tail!r} (a password's tail) shown in:\n{text}"


def test_config_show_table_at_80_columns(hostile_env) -> None:
    done = run_cli("config", "show", env=hostile_env)
    assert done.returncode == 0, done.stderr
    clean(done.stdout + done.stderr)
    assert "***" in done.stdout


def test_config_show_json(hostile_env) -> None:
    done = run_cli("config", "show", "-o", "json", env=hostile_env)
    assert done.returncode == 0, done.stderr
    clean(done.stdout + done.stderr)
    settings = json.loads(done.stdout)["settings"]
    assert settings["prometheus_url"] == "http://admin:***@127.0.0.1:9/prom?token=***"
    assert settings["alertmanager_url"] == "http://admin:***@127.0.0.1:9"
    assert settings["dits_url"] == "http://ops:***@127.0.0.1:9"
    assert settings["dsn"] == "postgresql://postgres:***@db.example:5432/dits"


def test_health_shows_the_dits_url_without_its_password(isolated_home) -> None:
    dits = CapturingServer()
    try:
        url = dits.url.replace("http://", "http://ops:DitsSecret789@")
        for output in ("table", "json"):
            done = run_cli("health", "-o", output, env={"DITSOPS_DITS_URL": url, "COLUMNS": "80"})
            assert done.returncode == 0, done.stderr
            clean(done.stdout + done.stderr)
            assert dits.url.replace("http://", "http://ops:***@") in done.stdout
    finally:
        dits.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_error_line_never_shows_a_token_query(isolated_home) -> None:
    port = closed_port()
    done = run_cli("health", "--url", f"http://127.0.0.1:{port}/?token=TopSecretTok", env={"COLUMNS": "80"})
    assert done.returncode == 4, done.stdout + done.stderr
    assert "TopSecretTok" not in done.stdout + done.stderr
    assert "token=***" in done.stderr
    done = run_cli("prom", "query", "up", env={"DITSOPS_PROMETHEUS_URL": f"http://u:Pw@x@127.0.0.1:{port}"})
    assert done.returncode == 4
    assert done.stderr.splitlines() == [
        f"ditsops: cannot reach Prometheus at http://127.0.0.1:{port}: Connection refused"
    ]


def test_the_run_header_and_record_never_show_a_password(hostile_env, tmp_path) -> None:
    dits = CapturingServer()
    try:
        env = {**hostile_env, "DITSOPS_DITS_URL": dits.url.replace("http://", "http://ops:DitsSecret789@")}
        path = tmp_path / "probe.yaml"
        path.write_text(
            textwrap.dedent("""\
                name: probe
                title: Probe
                steps:
                  - id: probe
                    title: The server answers
                    http: /health?token=QueryTok
                """)
        )
        shown = dits.url.replace("http://", "http://ops:***@")
        for verbose in (True, False):
            done = run_cli("runbook", str(path), "--non-interactive", *(["--verbose"] if verbose else []), env=env)
            assert done.returncode == 0, done.stdout + done.stderr
            clean(done.stdout + done.stderr)
            assert "QueryTok" not in done.stdout + done.stderr
            # the whole walk's header names the server, its password hidden; the compact one no URL
            assert (f"dits server  {shown}" in done.stdout) is verbose, done.stdout
        records = list(Path(os.environ["XDG_STATE_HOME"]).glob("ditsops/runs/*.jsonl"))
        assert records
        for record in records:
            text = record.read_text()
            clean(text)
            assert "QueryTok" not in text
    finally:
        dits.close()
