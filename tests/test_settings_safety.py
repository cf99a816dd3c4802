"""Secrets and settings (issue 18, item 7), each attack written as the attack.

A password however it is written never reaches a message; credentials go through a proxy
only for an origin the user named; a config file another user owns or may write is
refused, one others may read with secrets in it is a warning; the environment turning
production off and a password on the command line are said out loud; /health must be
the documented object; lint of a symlink to a file it may not quote is one line.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.cli import run_cli
from tests.httpcapture import CapturingServer

# --- DSN passwords, however they are written -------------------------------------------------------------


def test_a_raw_at_in_the_dsn_password_is_refused_before_libpq_reads_a_host_from_it(isolated_home, pg_cluster):
    dsn = f"postgresql://postgres:p@ss-tail-{pg_cluster.port}@127.0.0.1:{pg_cluster.port}/postgres"
    done = run_cli("db", "activity", env={"DITSOPS_DSN": dsn})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "raw '@'" in done.stderr and "%40" in done.stderr
    assert "ss-tail" not in done.stdout + done.stderr


def test_a_raw_at_in_the_diagnostics_dsn_is_refused_too(isolated_home, pg_dsn, tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text("name: own\ntitle: Own\nsteps:\n  - id: look\n    title: Look\n    sql: SELECT 1 AS one\n")
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": "postgresql://diag:se@cret-tail@127.0.0.1:1/postgres"}
    done = run_cli("runbook", str(path), "--non-interactive", env=env)
    assert "raw '@'" in done.stdout and "cret-tail" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("dsn", "hidden"),
    [
        ("postgresql://ditsops@db.example:5432/dits?token=first&second", ("first", "second")),
        ("postgresql://ditsops@db.example:5432/dits?password=first&second", ("first", "second")),
        ("host=db.example user=ditsops password=first&second", ("first", "second")),
        ("postgresql://ditsops:first#second@db.example:5432/dits", ("first", "second")),
        ("postgresql://ditsops@db.example:5432/dits?token=first#second", ("first", "second")),
        ("postgresql://ditsops:first?token=second@db.example:5432/dits", ("first", "second")),
    ],
)
def test_config_show_masks_a_dsn_password_whole(isolated_home, dsn, hidden):
    done = run_cli("config", "show", "--output", "json", env={"DITSOPS_DSN": dsn})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert "***" in json.dumps(shown)
    for part in hidden:
        assert part not in done.stdout + done.stderr


def test_an_unencoded_hash_in_a_url_password_shows_no_tail(isolated_home):
    env = {"DITSOPS_PROMETHEUS_URL": "http://prom:first#second-part@127.0.0.1:9/"}
    shown = run_cli("config", "show", env=env)
    used = run_cli("prom", "query", "up", env=env)
    for done in (shown, used):
        assert "second-part" not in done.stdout + done.stderr and "first" not in done.stdout + done.stderr


# --- credentials and proxies -----------------------------------------------------------------------------------


@pytest.fixture
def servers():
    target, proxy = CapturingServer(), CapturingServer()
    yield target, proxy
    target.close()
    proxy.close()


def proxied(target: CapturingServer, proxy: CapturingServer, **extra: str) -> dict[str, str]:
    return {
        "DITSOPS_PROMETHEUS_URL": target.url,
        "DITSOPS_HTTP_USERNAME": "oncall",
        "DITSOPS_HTTP_PASSWORD": "proxy-must-not-see",
        "HTTP_PROXY": proxy.url,
        "http_proxy": proxy.url,
        "NO_PROXY": "",
        "no_proxy": "",
        **extra,
    }


@pytest.mark.parametrize("command", [("prom", "query", "up"), ("alerts",)])
def test_credentials_never_go_through_a_proxy_the_user_did_not_name(isolated_home, servers, command):
    target, proxy = servers
    done = run_cli(*command, env=proxied(target, proxy))
    assert done.returncode == 0, done.stdout + done.stderr
    assert proxy.seen == []  # the request went directly, its basic auth with it
    assert target.authorizations() and target.authorizations()[0].startswith("Basic ")


@pytest.mark.parametrize("command", [("prom", "query", "up"), ("alerts",)])
def test_proxy_credentials_names_the_origin_whose_credentials_may_use_the_proxy(isolated_home, servers, command):
    target, proxy = servers
    run_cli(*command, env=proxied(target, proxy, DITSOPS_PROXY_CREDENTIALS=target.url))
    assert proxy.authorizations() and proxy.authorizations()[0].startswith("Basic ")
    assert target.seen == []


def test_without_credentials_the_proxy_is_used_as_the_environment_says(isolated_home, servers):
    target, proxy = servers
    env = proxied(target, proxy)
    del env["DITSOPS_HTTP_USERNAME"], env["DITSOPS_HTTP_PASSWORD"]
    run_cli("alerts", env=env)
    assert proxy.seen and not proxy.authorizations()


# --- config files ---------------------------------------------------------------------------------------------


def write_config(isolated_home, text: str, mode: int):
    path = isolated_home.config / "ditsops" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


SECRET_CONFIG = 'default_profile = "p"\n[profiles.p]\ndsn = "postgresql://ops:s3cret-pw@db.example/dits"\n'


@pytest.mark.parametrize("mode", [0o666, 0o602])
def test_a_config_file_others_may_write_is_refused(isolated_home, mode):
    path = write_config(isolated_home, SECRET_CONFIG, mode)
    done = run_cli("config", "show")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        done.stderr == f"ditsops: {path}: writable by other users (mode {mode:04o}); fix it with: chmod go-w {path}\n"
    )
    assert "s3cret-pw" not in done.stdout + done.stderr


def test_a_config_file_in_a_directory_others_may_write_is_refused(isolated_home):
    path = write_config(isolated_home, SECRET_CONFIG, 0o600)
    path.parent.chmod(0o777)
    done = run_cli("config", "show")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"ditsops: {path}: its directory {path.parent} is writable by other users (mode 0777)"
    )
    assert done.stderr.count("\n") == 1


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_config_file_owned_by_another_user_is_refused(isolated_home):
    path = write_config(isolated_home, SECRET_CONFIG, 0o600)
    os.chown(path, 65534, 65534)  # nobody
    done = run_cli("config", "show")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"ditsops: {path}: owned by another user (uid 65534); ditsops reads only your own config\n"


def test_a_config_file_others_may_read_with_a_password_in_it_is_a_warning(isolated_home):
    path = write_config(isolated_home, SECRET_CONFIG, 0o644)
    done = run_cli("config", "show")
    assert done.returncode == 0, done.stderr
    assert (
        done.stderr.count(f"holds passwords or tokens and other users may read it (mode 0644): chmod 600 {path}") == 1
    )
    path.chmod(0o600)
    assert run_cli("config", "show").stderr == ""
    path.chmod(0o644)
    path.write_text('[profiles.p]\ndsn = "postgresql://ops@db.example/dits"\n')  # nothing secret in it
    assert run_cli("config", "show").stderr == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_environment_turning_production_off_is_a_warning(isolated_home):
    write_config(isolated_home, '[profiles.prod]\ndsn = "host=db.example"\nproduction = true\n', 0o600)
    done = run_cli("--profile", "prod", "config", "show", env={"DITSOPS_PRODUCTION": "false"})
    assert done.returncode == 0, done.stderr
    assert "warning: DITSOPS_PRODUCTION turns production off for profile prod" in done.stderr
    quiet = run_cli("--profile", "prod", "config", "show")
    assert quiet.stderr == ""


def test_a_password_in_dsn_on_the_command_line_is_a_warning(isolated_home):
    done = run_cli("--dsn", "postgresql://ops:visible-in-ps@db.example/dits", "config", "show")
    assert "warning: --dsn carries a password" in done.stderr and "ps" in done.stderr
    assert "visible-in-ps" not in done.stdout + done.stderr
    assert "warning" not in run_cli("--dsn", "postgresql://ops@db.example/dits", "config", "show").stderr


# --- /health ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [[{"status": "healthy"}], "healthy", 1, None])
def test_a_health_answer_that_is_not_the_documented_object_is_a_shape_error(isolated_home, body):
    dits = CapturingServer(answers={"/health": body})
    try:
        done = run_cli("health", env={"DITSOPS_DITS_URL": dits.url})
    finally:
        dits.close()
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr == "ditsops: Dits server answered an unexpected document: the document is not an object\n"
    assert done.stdout == ""  # never counted as healthy


# --- lint of a symlink to a file it may not quote ---------------------------------------------------------------


def test_lint_of_a_symlink_to_a_file_it_may_not_quote_is_one_line(isolated_home, tmp_path):
    link = tmp_path / "shadow.yaml"
    link.symlink_to("/etc/passwd")
    done = run_cli("runbook", "lint", str(link))
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if str(link) in line]
    assert lines == [
        f"ditsops: {link}: not a valid runbook (details withheld: reached through a symlink out of its directory)"
    ]
