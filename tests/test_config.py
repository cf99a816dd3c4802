"""Settings precedence (option > environment > profile > defaults) and config errors."""

from __future__ import annotations

import json

import pytest

from ditsops.base.errors import ConfigError
from ditsops.core.config import load_settings
from tests.cli import run_cli

CONFIG = """
default_profile = "staging"

[profiles.staging]
dsn = "postgresql://app:staging-pw@db.staging:5432/dits"
prometheus_url = "http://prom.staging:9090"

[profiles.prod]
dsn = "host=db.prod dbname=dits user=ops password='pr0d pw'"
production = true
statement_timeout = "10s"
"""


@pytest.fixture
def config(isolated_home):
    path = isolated_home.config / "ditsops" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(CONFIG)
    return path


def test_default_profile_applies(config):
    settings = load_settings()
    assert settings.profile == "staging"
    assert settings.dsn.startswith("postgresql://app:")
    assert settings.sources["dsn"] == "profile staging"
    assert settings.sources["namespace"] == "default" and settings.namespace is None


def test_environment_beats_profile_and_option_beats_environment(config, monkeypatch):
    monkeypatch.setenv("DITSOPS_DSN", "postgresql://env@host/db")
    monkeypatch.setenv("DITSOPS_PROMETHEUS_URL", "http://prom.env:9090")
    settings = load_settings(profile="prod")
    assert settings.dsn == "postgresql://env@host/db" and settings.sources["dsn"] == "environment DITSOPS_DSN"
    assert settings.production is True and settings.statement_timeout == "10s"
    settings = load_settings(profile="prod", options={"dsn": "postgresql://opt@host/db"})
    assert settings.dsn == "postgresql://opt@host/db" and settings.sources["dsn"] == "option"
    assert settings.prometheus_url == "http://prom.env:9090"


def test_libpq_variables_count_as_the_environment(config, monkeypatch):
    monkeypatch.setenv("PGHOST", "db.from.env")
    settings = load_settings()
    assert settings.dsn == "" and settings.sources["dsn"] == "environment PGHOST"


def test_unknown_profile_and_keys_are_config_errors(config):
    with pytest.raises(ConfigError, match=r"no profile 'qa' .*\(profiles: prod, staging\)"):
        load_settings(profile="qa")
    config.write_text(CONFIG + '\n[profiles.bad]\ndns = "typo"\n')
    with pytest.raises(ConfigError, match="unknown keys: dns"):
        load_settings(profile="bad")


def test_sandbox_profile_needs_the_sandbox(isolated_home):
    with pytest.raises(ConfigError, match="only while the sandbox is up"):
        load_settings(profile="sandbox")


def test_config_show_redacts_every_password(config):
    for profile, secret in (("staging", "staging-pw"), ("prod", "pr0d pw")):
        done = run_cli("--profile", profile, "config", "show")
        assert done.returncode == 0, done.stderr
        assert secret not in done.stdout and "***" in done.stdout
    data = json.loads(run_cli("--profile", "prod", "config", "show", "--output", "json").stdout)
    assert data["settings"]["dsn"] == "host=db.prod dbname=dits user=ops password=***"
    assert data["sources"]["production"] == "profile prod"


def test_broken_config_file_is_one_line_exit_2(config):
    config.write_text("[profiles.x\n")
    done = run_cli("config", "show")
    assert done.returncode == 2
    assert "not valid TOML" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_wrong_type_in_profile(config, monkeypatch):
    monkeypatch.setenv("DITSOPS_CONNECT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="connect_timeout must be int"):
        load_settings()
