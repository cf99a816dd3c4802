"""`--watch` through a real pseudo-terminal: the view is redrawn when what it shows changes
(alerts arriving, connections opening, a server coming up), a failing backend is shown
in the view while watching goes on, and q or Ctrl-C leave with exit 0. Piped, a
timestamped snapshot per interval."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pexpect
import pytest

from ditsops.sandbox import promstack
from tests.helpers import require_binary, retry_if_port_taken, wait_until

INTERVAL = "0.3"  # seconds: short, so a change shows at once; the refreshes are what is tested
ANSI = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"  # colours and cursor moves between the words


def spawn(env: dict[str, str], *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", *args],
        env={**os.environ, "COLUMNS": "120", **env},
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 120),
    )


def leave_with(child: pexpect.spawn, key: str | None) -> str:
    """Press `key` (None: Ctrl-C) and wait for the end; the exit status must be 0."""
    if key is None:
        child.sendintr()
    else:
        child.send(key)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus, child.before[-2000:])
    assert "Traceback" not in child.before
    return child.before


# -- alerts: a new alert appears in the refreshed view; q leaves --------------------------


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    require_binary("prometheus-alertmanager", "apt-get install --no-install-recommends prometheus-alertmanager")
    service = retry_if_port_taken(lambda: promstack.start_alertmanager(tmp_path_factory.mktemp("am")))
    yield service
    promstack.stop(service.pid, service.cmdline_marker)


def test_alerts_watch_shows_a_new_alert_and_q_leaves(alertmanager, isolated_home):
    child = spawn({"DITSOPS_ALERTMANAGER_URL": alertmanager.url}, "alerts", "--watch", "--interval", INTERVAL)
    try:
        child.expect(f"Every {ANSI}0.3s")
        child.expect("No alerts firing or pending")
        now = datetime.now(UTC)
        alert = {
            "labels": {"alertname": "WatchedAlertArrives", "severity": "critical"},
            "annotations": {"summary": "posted while watching"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
        }
        httpx.post(f"{alertmanager.url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
        child.expect("WatchedAlertArrives")
    except BaseException:
        child.close(force=True)
        raise
    leave_with(child, "q")


# -- db activity: the connection count moves as sessions open; q leaves -------------------


def test_db_activity_watch_follows_the_connection_count(pg_dsn, sessions, isolated_home):
    total = rf"total \(app={sessions.app}\){ANSI}[\s│|]*{ANSI}"
    # Through a shell that reports the exit status and the terminal's modes afterwards: q
    # must leave the terminal as it found it (canonical input, echo on).
    command = f"{sys.executable} -m ditsops db activity --app {sessions.app} --watch --interval {INTERVAL}"
    child = pexpect.spawn(
        "bash",
        ["--norc", "-c", f"{command}; echo exit=$?; stty -a"],
        env={**os.environ, "COLUMNS": "120", "DITSOPS_DSN": pg_dsn},
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 120),
    )
    try:
        child.expect(total + "0")
        for _ in range(3):
            sessions.idle()
        child.expect(total + "3")
        child.send("q")
        child.expect("exit=0")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    modes = child.before
    assert " icanon" in modes and " echo" in modes and "Traceback" not in modes, modes


# -- health: the server down is shown in the view, watching goes on, it comes up; Ctrl-C ----


class StandInDits:
    """A Dits health endpoint bound to its port but not yet listening (connections are
    refused, as from a server that is down) until `come_up()`."""

    def __init__(self) -> None:
        body = json.dumps({"status": "healthy", "version": "9.9.9-watch", "checks": []}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

        self.serving = False

    def come_up(self) -> None:
        self.server.server_activate()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.serving = True

    def close(self) -> None:
        if self.serving:
            self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dits() -> Iterator[StandInDits]:
    server = StandInDits()
    yield server
    server.close()


@pytest.mark.services  # a loopback stand-in for the Dits server
def test_health_watch_shows_the_outage_keeps_watching_and_ctrl_c_leaves(dits, isolated_home):
    child = spawn({"DITSOPS_DITS_URL": dits.url}, "health", "--watch", "--interval", INTERVAL)
    try:
        child.expect("refresh failed at")
        child.expect("cannot reach")
        dits.come_up()
        child.expect("healthy")
        child.expect("9.9.9-watch")
    except BaseException:
        child.close(force=True)
        raise
    leave_with(child, None)


# -- piped: a timestamped snapshot per interval; Ctrl-C leaves -----------------------------


def test_piped_watch_prints_timestamped_snapshots(isolated_home):
    from ditsops.sandbox.ports import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: every refresh fails, said on stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "ditsops", "health", "--url", url, "--watch", "--interval", INTERVAL],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    separator = re.compile(r"^--- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d ditsops health ---$")
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(seen) >= 2, 20, "two snapshots on stdout")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        reader.join(timeout=20)
        assert process.stderr is not None
        err = process.stderr.read()
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert len(seen) >= 2 and all(separator.match(line.strip()) for line in seen), seen
    assert "cannot reach Dits server" in err and "Traceback" not in err
    assert "\x1b[" not in "".join(seen)  # no cursor movement into a pipe


# -- the interval, in-process ------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "watch", "seconds"),
    [(None, False, None), (None, True, 2.0), ("5", False, 5.0), ("500ms", True, 0.5), ("1m", True, 60.0)],
)
def test_the_interval_implies_watch_and_reads_durations_or_seconds(given, watch, seconds):
    from ditsops.cli.watch import watch_interval

    assert watch_interval(watch, given) == seconds


@pytest.mark.parametrize("given", ["0", "50ms", "soon", "-1"])
def test_a_wrong_interval_is_a_usage_error(given):
    from ditsops.base.errors import UsageError
    from ditsops.cli.watch import watch_interval

    with pytest.raises(UsageError, match="--interval"):
        watch_interval(True, given)


def test_a_reader_that_has_seen_enough_ends_the_watch_with_exit_0(isolated_home):
    # `ditsops health --watch | head -2`: the pipe closes under the watch, which ends quietly.
    from ditsops.sandbox.ports import free_port

    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "ditsops", "health", "--url", url, "--watch", "--interval", INTERVAL],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith("--- ")
        process.stdout.close()  # what head does once it has its lines
        err = process.stderr.read()
        process.wait(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "internal error" not in err, err
