"""A backend answering 2 GB: every HTTP client (Prometheus through requests, Alertmanager
and Dits through httpx, Kubernetes through urllib3) refuses the body as it crosses
max_response_bytes, one line, exit 4, and the ditsops process stays far under 500 MB.
The bodies are generated as they are sent; the child's own peak RSS is measured."""

from __future__ import annotations

import functools
import os
import threading

import pytest

from ditsops.clients.bounded import DEFAULT_MAX_BYTES
from tests.bounds_fixtures import (  # noqa: F401
    GB,
    MB,
    dense_json,
    endless_json,
    json_answer,
    kubeconfig_for,
    run_measured,
    scripted,
)
from tests.cli import run_cli
from tests.helpers import wait_until
from tests.httpcapture import SlowDripServer

LIMIT_500_MB = 500 * MB
REFUSED = f"answered more than {DEFAULT_MAX_BYTES // MB} MB: refused (max_response_bytes, DITSOPS_MAX_RESPONSE_BYTES)"


def one_line(done) -> str:
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def settings_for(url: str, tmp_path) -> dict[str, str]:
    return {
        "DITSOPS_PROMETHEUS_URL": url,
        "DITSOPS_ALERTMANAGER_URL": url,
        "DITSOPS_DITS_URL": url,
        "KUBECONFIG": str(kubeconfig_for(url, tmp_path)),
        "DITSOPS_HTTP_TIMEOUT": "60",
    }


COMMANDS = {
    "prom-query (requests)": (("prom", "query", "up"), "Prometheus at"),
    "alerts (httpx)": (("alerts",), "Alertmanager at"),
    "health (httpx)": (("health",), "Dits server at"),
    "k8s-status (urllib3)": (("k8s", "status"), "the Kubernetes API at"),
}


@pytest.mark.parametrize("declare", [False, True], ids=["chunked", "content-length"])
@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_a_2_gb_answer_is_refused_early_in_little_memory(
    scripted,  # noqa: F811
    tmp_path,
    isolated_home,
    command,
    declare,
):
    server = scripted(lambda path: endless_json(2 * GB, declare=declare))
    args, service = COMMANDS[command]
    done = run_measured(*args, env=settings_for(server.url, tmp_path), timeout=120)
    assert done.returncode == 4, done.stdout + done.stderr
    line = one_line(done)
    assert service in line and REFUSED in line, line
    assert done.peak_rss < LIMIT_500_MB, f"peak RSS {done.peak_rss // MB} MB"
    assert server.sent < 8 * DEFAULT_MAX_BYTES  # refused as it crossed the limit, not read to the end
    if declare:
        assert server.sent < DEFAULT_MAX_BYTES  # a declared length over the limit: refused before reading


@pytest.mark.parametrize("item", [b"{}", b'"xx"', b"1.5"], ids=["dicts", "strings", "floats"])
@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_an_answer_under_the_limit_that_would_parse_into_gigabytes_is_refused(
    scripted,  # noqa: F811
    tmp_path,
    isolated_home,
    command,
    item,
):
    """30 MB of `{},` is ten million dicts (about a gigabyte parsed): refused before parsing."""
    server = scripted(lambda path: dense_json(DEFAULT_MAX_BYTES - MB, item))
    args, service = COMMANDS[command]
    done = run_measured(*args, env=settings_for(server.url, tmp_path), timeout=120)
    assert done.returncode == 4, done.stdout + done.stderr
    line = one_line(done)
    assert service in line and "answered a document that would take more than 192 MB to read: refused" in line, line
    assert done.peak_rss < LIMIT_500_MB, f"peak RSS {done.peak_rss // MB} MB"


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    """`{"status": "<size spaces>"}` gzipped, made a megabyte at a time: this test process
    never holds the unpacked size (a child's peak RSS can include its parent's at fork)."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    parts = [packer.compress(b'{"status": "')]
    block = b" " * MB
    parts += [packer.compress(block) for _ in range(size // MB)]
    parts += [packer.compress(b'"}'), packer.flush()]
    return b"".join(parts)


@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_a_compressed_bomb_is_counted_as_it_unpacks(scripted, tmp_path, isolated_home, command):  # noqa: F811
    packed = _gzip_bomb(200 * MB)  # ~200 kB on the wire
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(packed))}
    server = scripted(lambda path: (200, headers, [packed]))
    args, service = COMMANDS[command]
    done = run_measured(*args, env=settings_for(server.url, tmp_path))
    assert done.returncode == 4, done.stdout + done.stderr
    assert REFUSED in one_line(done)
    assert done.peak_rss < LIMIT_500_MB


def test_the_limit_is_a_setting_from_the_environment_or_a_profile(scripted, tmp_path, isolated_home):  # noqa: F811
    server = scripted(lambda path: json_answer({"status": "success", "data": {"resultType": "vector", "result": []}}))
    env = settings_for(server.url, tmp_path)
    assert run_cli("prom", "query", "up", env=env).returncode == 0
    small = run_cli("prom", "query", "up", env={**env, "DITSOPS_MAX_RESPONSE_BYTES": "1024"})
    assert small.returncode == 0, small.stderr  # the answer is 70 bytes: within 1 kB
    server_big = scripted(lambda path: json_answer({"status": "success", "data": {"x": "y" * 5000}}))
    config = isolated_home.config / "ditsops" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[profiles.lab]\nprometheus_url = "{server_big.url}"\nmax_response_bytes = 2048\n')
    done = run_cli("--profile", "lab", "prom", "query", "up")
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"Prometheus at {server_big.url} answered more than 2 kB: refused" in one_line(done)
    bad = run_cli("prom", "query", "up", env={**env, "DITSOPS_MAX_RESPONSE_BYTES": "12"})
    assert bad.returncode == 2 and "max_response_bytes must be at least 1024" in one_line(bad)


def _dits(url: str):
    from ditsops.clients.dits import DitsClient
    from ditsops.core.config import Settings

    client = DitsClient(url, Settings(dits_url=url).credentials_for(url), timeout=0.5, secrets=frozenset())
    return client, lambda: client.get("/health")


def _prometheus(url: str):
    from ditsops.clients.prometheus import PrometheusClient
    from ditsops.core.config import Settings

    client = PrometheusClient(url, Settings(prometheus_url=url).credentials_for(url), timeout=0.5, secrets=frozenset())
    return client, lambda: client.query("up")


def _kube(url: str):
    from kubernetes import client as k8s

    from ditsops.clients.kube import KubeClient, KubeTarget

    configuration = k8s.Configuration()
    configuration.host, configuration.retries = url, False
    client = KubeClient(k8s.ApiClient(configuration), KubeTarget("drip", url, "dits"), timeout=0.5)
    return client, lambda: client.get("deployments", "dits-server")


@pytest.mark.services  # a loopback stand-in that drips its answer
@pytest.mark.parametrize("make", [_dits, _prometheus, _kube], ids=["httpx", "requests", "urllib3"])
def test_a_deadline_leaves_no_thread_or_socket_behind(isolated_home, make):
    """What `--watch` does against a slow server: the same call again and again. Each call
    that ran out of time must not leave its thread reading and its socket open."""
    from ditsops.base.errors import TargetUnreachable

    drip = SlowDripServer(seconds=60)
    client, call = make(drip.url)
    before = threading.active_count()
    try:
        for _ in range(3):
            with pytest.raises(TargetUnreachable):
                call()
        wait_until(threading.active_count, what="abandoned reader threads to end", until=lambda n: n <= before)
        wait_until(lambda: _open_sockets_to(drip.port), what="sockets to the server closed", until=lambda n: n == 0)
    finally:
        client.close()
        drip.close()


def _open_sockets_to(port: int) -> int:
    """ESTABLISHED TCP connections of this process to 127.0.0.1:port (from /proc/net/tcp)."""
    ours = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if _is_link(fd)}
    inodes = {link[8:-1] for link in ours if link.startswith("socket:[")}
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            if state == "01" and int(remote.split(":")[1], 16) == port and inode in inodes:
                count += 1
    return count


def _is_link(fd: str) -> bool:
    try:
        os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return True


# -- what is printed: one cell, one table ---------------------------------------------------------


def _alerts(count: int, big: int = 0) -> list[dict]:
    return [
        {
            "labels": {"alertname": f"A{i:06d}", "severity": "critical", "job": "j"},
            "annotations": {"summary": "s" * big if i == 0 and big else "short"},
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "startsAt": "2026-12-07T10:00:00Z",
            "fingerprint": f"f{i}",
        }
        for i in range(count)
    ]


def test_a_10_mb_label_prints_cut_and_full_shows_it(scripted, isolated_home):  # noqa: F811
    from ditsops.render.tables import MAX_CELL

    server = scripted(lambda path: json_answer(_alerts(1, 10 * MB)))
    env = {"DITSOPS_ALERTMANAGER_URL": server.url, "COLUMNS": "80"}
    done = run_cli("alerts", env=env)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) < 2 * MAX_CELL
    assert "s" * (MAX_CELL - 1) + "…" in done.stdout
    assert f"cells longer than {MAX_CELL} characters cut with …" in done.stdout
    whole = run_cli("alerts", "--full", env=env)
    assert "s" * (10 * MB) in whole.stdout


def test_thousands_of_alerts_print_the_first_thousand_and_say_how_many(scripted, isolated_home):  # noqa: F811
    from ditsops.render.alerts import MAX_ROWS

    server = scripted(lambda path: json_answer(_alerts(MAX_ROWS + 500)))
    env = {"DITSOPS_ALERTMANAGER_URL": server.url, "COLUMNS": "80"}
    done = run_cli("alerts", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("short") == MAX_ROWS
    assert f"… 500 more rows not shown ({MAX_ROWS + 500} in all)" in done.stdout
    assert run_cli("alerts", "--full", env=env).stdout.count("short") == MAX_ROWS + 500


def test_a_10_mb_log_line_prints_cut(scripted, tmp_path, isolated_home):  # noqa: F811
    from ditsops.render.cells import MAX_CELL

    pod = {"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}}
    line = b"2026-12-07T10:00:00.000000000Z " + b"L" * (10 * MB) + b"\n"

    def script(path: str):
        if "/log" in path:
            return 200, {"Content-Type": "text/plain", "Content-Length": str(len(line))}, [line]
        return json_answer({"items": [pod], "metadata": {}})

    server = scripted(script)
    env = {"KUBECONFIG": str(kubeconfig_for(server.url, tmp_path)), "COLUMNS": "80"}
    done = run_cli("k8s", "logs", "-l", "app=x", env=env)
    assert done.returncode == 0, done.stderr
    assert "L" * 100 in done.stdout and len(done.stdout) < 2 * MAX_CELL
    assert "…" in done.stdout


def test_pods_whose_logs_never_end_cost_a_bounded_read_each(scripted, tmp_path, isolated_home):  # noqa: F811
    """A server that ignores tailLines and limitBytes: 50 pods, each log endless short lines.
    Each pod's log is read to LOG_BYTES and cut; the last --tail lines of it are shown."""
    from ditsops.clients.kube import LOG_BYTES

    pods = [
        {"metadata": {"name": f"p{i:02d}"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}}
        for i in range(50)
    ]

    def endless_log():
        block = b"2026-12-07T10:00:00.000000000Z x\n" * 2000
        while True:
            yield block

    def script(path: str):
        if "/log" in path:
            assert "limitBytes=" in path
            return 200, {"Content-Type": "text/plain"}, endless_log()
        return json_answer({"items": pods, "metadata": {}})

    server = scripted(script)
    env = {"KUBECONFIG": str(kubeconfig_for(server.url, tmp_path)), "COLUMNS": "80"}
    done = run_measured("k8s", "logs", "-l", "app=x", "--tail", "10", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    import json

    assert len(json.loads(done.stdout)) == 50 * 10
    assert done.peak_rss < LIMIT_500_MB, f"{done.peak_rss // MB} MB"
    assert server.sent < 50 * (LOG_BYTES + 16 * MB)  # each stream dropped soon after its cut


@pytest.mark.services  # a loopback stand-in that drips its answer
def test_watch_against_a_dripping_server_keeps_one_thread_and_socket(isolated_home):
    """`health --watch` against a server that drips its answer: refresh after refresh cut
    by the deadline, and the process still has its one thread and at most one socket."""
    import subprocess
    import sys

    drip = SlowDripServer(seconds=120)
    env = {**os.environ, "DITSOPS_DITS_URL": drip.url, "DITSOPS_HTTP_TIMEOUT": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "ditsops", "health", "--watch", "100ms"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: drip.connections, 60, "four refreshes cut by the deadline", until=lambda n: n >= 4)
        threads = len(os.listdir(f"/proc/{child.pid}/task"))
        sockets = sum(
            1 for fd in os.listdir(f"/proc/{child.pid}/fd") if _link(f"/proc/{child.pid}/fd/{fd}").startswith("socket:")
        )
        assert threads <= 3, f"{threads} threads after {drip.connections} refreshes"
        assert sockets <= 2, f"{sockets} sockets after {drip.connections} refreshes"
    finally:
        child.terminate()
        child.wait(timeout=30)
        drip.close()


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def test_100k_alerts_list_the_first_thousand_in_little_memory(scripted, isolated_home):  # noqa: F811
    from ditsops.render.alerts import MAX_ROWS

    server = scripted(lambda path: json_answer(_alerts(100_000)))
    done = run_measured("alerts", env={"DITSOPS_ALERTMANAGER_URL": server.url, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("short") == MAX_ROWS
    assert f"({100_000} in all)" in done.stdout
    assert done.peak_rss < LIMIT_500_MB, f"{done.peak_rss // MB} MB"


@pytest.mark.services  # a loopback stand-in that drips its answer
@pytest.mark.parametrize("error", ["urllib3", "socket"])
def test_a_socket_timeout_that_beats_the_deadline_is_still_one_unreachable_line(isolated_home, mocker, error):
    """The body is read by ditsops' own bounded reader, outside requests' wrapping: when the
    socket's read timeout fires a moment before the total deadline (a loaded machine; seen in
    a CI run), urllib3's ReadTimeoutError escaped as it was instead of `did not answer
    within` (exit 4). Hard to time for real: the reader is made to raise what the socket did."""
    import urllib3

    from ditsops.base.errors import TargetUnreachable

    raised = urllib3.exceptions.ReadTimeoutError(None, "/api/v1/query", "Read timed out.")
    mocker.patch(
        "ditsops.clients.prometheus.read_bounded", side_effect=raised if error == "urllib3" else TimeoutError()
    )
    drip = SlowDripServer(seconds=60)
    client, call = _prometheus(drip.url)
    try:
        with pytest.raises(TargetUnreachable, match="did not answer within 0.5s"):
            call()
    finally:
        client.close()
        drip.close()
