"""Bounded YAML, written as the attack: alias bombs, deep nesting, huge files, a FIFO, a
symlink to someone else's secret. Each is exit 2 naming file and line, in seconds, with
bounded memory, without a traceback and without echoing the file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ditsops.base.errors import ConfigError, RunbookError
from ditsops.core.catalog import catalog
from ditsops.core.loader import load_runbook, resolve_params
from tests.cli import run_cli

GOOD = textwrap.dedent(
    """\
    name: {name}
    title: Good runbook
    steps:
      - id: look
        title: Look
        note: Look around.
    """
)


def alias_bomb(levels: int = 9) -> str:
    lines = ["name: bomb", "title: Bomb", "steps:", "  - id: a", "    title: A", "    note: x", "    why: &l0 lol"]
    refs = ["*l0"] * 9
    body = [f"    l1: &l1 [{', '.join(refs)}]"]
    for level in range(2, levels + 1):
        body.append(f"    l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines + body) + "\n"


def run_measured(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run the CLI as a child; its wall time and peak RSS in MB (from the wait status)."""
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "ditsops", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    try:
        # Too much memory or time fails the test instead of the machine.
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        if process.returncode is None and process.poll() is None:
            process.kill()
    stdout, stderr = process.stdout.read(), process.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    done = subprocess.CompletedProcess(process.args, code, stdout, stderr)
    return done, time.monotonic() - began, usage.ru_maxrss // 1024


def assert_clean(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr


def test_alias_bomb_exits_2_in_seconds_with_bounded_memory(tmp_path, isolated_home):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    done, seconds, peak_mb = run_measured("runbook", "lint", str(bomb))
    assert done.returncode == 2, done.stderr
    assert_clean(done)
    assert f"{bomb}:" in done.stderr and "aliases expand to more than" in done.stderr
    assert seconds < 15, seconds
    assert peak_mb < 300, peak_mb


def test_too_many_aliases_are_refused(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("name: many\ntitle: x\nsteps:\n  - &s {id: a, title: A, note: x}\n" + "  - *s\n" * 150)
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert "more than 100 aliases" in caught.value.problems[0]


def test_deep_nesting_exits_2_naming_the_file(tmp_path, isolated_home):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\ntitle: Deep\nsteps: " + "[" * 300 + "]" * 300 + "\n")
    done, seconds, _ = run_measured("runbook", "lint", str(deep))
    assert done.returncode == 2
    assert_clean(done)
    assert f"{deep}:3: refused YAML: nested deeper than 64 levels" in done.stderr
    assert seconds < 15


def test_block_nesting_is_refused_too(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\ntitle: Deep\nsteps:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 80)))
    with pytest.raises(RunbookError) as caught:
        load_runbook(deep)
    assert "nested deeper than 64 levels" in caught.value.problems[0]


def test_a_file_over_1_mib_is_not_parsed(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: big\ntitle: x\n# " + "x" * (1 << 20) + "\n")
    began = time.monotonic()
    with pytest.raises(RunbookError) as caught:
        load_runbook(big)
    assert time.monotonic() - began < 2
    assert caught.value.problems == [f"{big}: larger than 1.0 MiB (1.0 MiB); refusing to read it"]


def test_many_values_under_the_size_limit_are_refused_quickly(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("name: flat\ntitle: x\nx: [" + ",".join(["a"] * 400_000) + "]\n")
    began = time.monotonic()
    with pytest.raises(RunbookError) as caught:
        load_runbook(flat)
    assert time.monotonic() - began < 10
    assert "more than 20000 values" in caught.value.problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: n\ntitle: t\nsteps: 1" + "0" * 5000 + "\n", ":3: refused YAML: cannot read this value as int"),
        ("name: n\ntitle: t\nsteps: 2024-13-45\n", ":3: refused YAML: cannot read this value as timestamp"),
        ("name: n\ntitle: t\nsteps: *nowhere\n", ":3: invalid YAML: found undefined alias"),
        ("name: n\ntitle: t\nsteps: !!python/object:os.system x\n", ":3: invalid YAML: could not determine"),
        ("name: n\ntitle: t\x00\n", ":2: invalid YAML: unacceptable character #x0000"),
    ],
)
def test_values_pyyaml_cannot_build_are_runbook_errors(tmp_path, text, expected):
    path = tmp_path / "n.yaml"
    path.write_text(text)
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert expected in caught.value.problems[0]
    assert len(caught.value.problems[0]) < 300


def test_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    began = time.monotonic()
    with pytest.raises(RunbookError) as caught:
        load_runbook(fifo)
    assert time.monotonic() - began < 2
    assert caught.value.problems == [f"{fifo}: not a regular file"]


def test_one_bad_own_runbook_is_reported_and_skipped(isolated_home):
    own = isolated_home.config / "ditsops" / "runbooks"
    own.mkdir(parents=True)
    (own / "mine-good.yaml").write_text(GOOD.format(name="mine-good"))
    (own / "mine-deep.yaml").write_text("name: mine-deep\ntitle: x\nsteps: " + "[" * 300 + "]" * 300 + "\n")
    (own / "mine-bomb.yaml").write_text(alias_bomb().replace("name: bomb", "name: mine-bomb"))

    done = run_cli("runbook", "list")
    assert done.returncode == 0, done.stderr
    assert_clean(done)
    assert "mine-good" in done.stdout and "high-error-rate" in done.stdout
    assert "mine-deep" in done.stdout and "nested deeper than 64 levels" in done.stdout
    assert "mine-bomb" in done.stdout and "aliases expand" in done.stdout

    done = run_cli("runbook", "lint")
    assert done.returncode == 2
    assert_clean(done)
    assert "mine-good.yaml (1 steps)" in done.stdout  # the others are still checked
    assert f"{own / 'mine-deep.yaml'}:3: refused YAML: nested deeper than 64 levels" in done.stderr
    assert f"{own / 'mine-bomb.yaml'}:" in done.stderr

    names = {e.path.stem for e in catalog() if e.runbook}
    assert "mine-good" in names and "mine-deep" not in names


def test_alerts_still_answer_with_a_bad_own_runbook(isolated_home):
    """`alerts` skips the bad runbook and says so; it fails only for its own reason (no target)."""
    own = isolated_home.config / "ditsops" / "runbooks"
    own.mkdir(parents=True)
    (own / "mine-deep.yaml").write_text("name: mine-deep\ntitle: x\nsteps: " + "[" * 300 + "]" * 300 + "\n")
    done = run_cli("alerts")
    assert done.returncode == 2  # neither Alertmanager nor Prometheus configured
    assert_clean(done)
    assert "neither Alertmanager nor Prometheus is configured" in done.stderr


SECRET = "name: s3cr3t-token-value\ntitle: hunter2-password\nsteps: [{id: a, title: A, kube: exfil-hunter2}]\n"


def _other_users_file(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    secret.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(secret, 65534, 65534)  # nobody: root can read it, its owner did not share it
    return secret


def test_symlink_to_another_users_secret_is_not_echoed(tmp_path, isolated_home):
    secret = _other_users_file(tmp_path)
    link_dir = tmp_path / "mine"
    link_dir.mkdir()
    link = link_dir / "sneaky.yaml"
    link.symlink_to(secret)
    done = run_cli("runbook", "lint", str(link))
    assert done.returncode == 2
    assert_clean(done)
    assert "s3cr3t" not in done.stderr + done.stdout and "hunter2" not in done.stderr + done.stdout
    assert f"{link}" in done.stderr and "details withheld" in done.stderr


def test_symlink_out_of_its_directory_is_not_echoed_even_if_readable(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(SECRET)
    inside = tmp_path / "runbooks"
    inside.mkdir()
    link = inside / "sneaky.yaml"
    link.symlink_to(outside)
    with pytest.raises(RunbookError) as caught:
        load_runbook(link)
    text = "\n".join(caught.value.problems)
    assert "hunter2" not in text and "s3cr3t" not in text
    assert "reached through a symlink out of its directory" in text
    # the same file read directly is one's own: its problems are shown in full
    with pytest.raises(RunbookError) as direct:
        load_runbook(outside)
    assert "exfil-hunter2" in "\n".join(direct.value.problems)


def test_unreadable_file_is_cannot_read(tmp_path, mocker):
    locked = tmp_path / "locked.yaml"
    locked.write_text(SECRET)
    locked.chmod(0)
    if os.geteuid() == 0:
        # Root reads every file (CI runs as root): refuse the open the way the kernel
        # refuses anyone else, since that is hard to produce for real here.
        import ditsops.core.safefile as safefile

        real_open = os.open

        def denied(path, flags, *args):
            if str(path) == str(locked):
                raise PermissionError(13, "Permission denied")
            return real_open(path, flags, *args)

        mocker.patch.object(safefile.os, "open", denied)
    with pytest.raises(RunbookError) as caught:
        load_runbook(locked)
    assert caught.value.problems == [f"{locked}: cannot read: Permission denied"]


def test_config_file_is_bounded(tmp_path, isolated_home, monkeypatch):
    from ditsops.core.config import load_settings

    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_settings(config_path=deep)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than 1.0 MiB"):
        load_settings(config_path=big)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(config_path=fifo)


WIDENING = textwrap.dedent(
    """\
    name: widen
    title: Widen
    params:
      application: {type: string, default: ""}
      deployment: {type: string, default: dits-server}
      alert: {type: string, default: HighErrorRate}
    steps:
      - id: logs
        title: Logs
        kube: logs
        selector: app={{ deployment }}
      - id: mute
        title: Mute
        action: silence
        matchers: ["alertname={{ alert }}"]
        duration: 1h
        comment: quiet
      - id: kill
        title: Kill
        action: terminate-backends
        filters: {application: "{{ application }}", state: [active]}
    """
)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"application": ""}, "step 'kill': filter application renders empty"),
        ({"application": "x", "deployment": ""}, "step 'logs': selector renders empty"),
        ({"application": "x", "alert": " "}, "step 'mute': matcher 'alertname={{ alert }}' renders empty"),
    ],
)
def test_an_empty_parameter_never_widens_a_selection(tmp_path, given, field):
    from ditsops.base.errors import UsageError

    path = tmp_path / "widen.yaml"
    path.write_text(WIDENING)
    book = load_runbook(path)
    with pytest.raises(UsageError) as caught:
        resolve_params(book, given)
    assert field in caught.value.message
    assert caught.value.exit_code == 2


def test_empty_filter_refuses_the_run_from_the_cli(tmp_path, isolated_home):
    path = tmp_path / "widen.yaml"
    path.write_text(WIDENING)
    done = run_cli("runbook", str(path), "--set", "application=", "--non-interactive", "--dry-run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert_clean(done)
    assert "filter application renders empty" in done.stderr
