"""`k8s logs` over several pods: lines merged in time order (the kubelet's timestamps), each
with its pod; `-f` follows every pod, shows new lines as they are written, and Ctrl-C ends
it with exit 0. Against the in-memory Kubernetes API; the merging itself in-process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pexpect
import pytest

from ditsops.core.kubelogs import Reorder, StampedLine, in_time_order, parse_stamp, stamped
from ditsops.sandbox.kubeapi import KubeAPIServer
from tests.cli import run_cli
from tests.helpers import wait_until

NS = "dits"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # NO_COLOR keeps dim and bold


def worker_pods(server: KubeAPIServer) -> list[str]:
    pods = sorted(p["metadata"]["name"] for p in server.list("pods", NS, "app=dits-worker"))
    assert len(pods) == 2, pods
    return pods


def write(server: KubeAPIServer, pod: str, text: str, when: float) -> None:
    server.api.logs.append((NS, pod, "dits-worker"), [text], when)


def interleave(server: KubeAPIServer) -> list[tuple[str, str]]:
    """Four lines, alternating between the two pods in time: first, second, third, fourth.
    Sorted by pod they would read first, third, second, fourth."""
    first, second = worker_pods(server)
    now = time.time()
    order = [(first, "marker-1 first"), (second, "marker-2 second"), (first, "marker-3 third"), (second, "marker-4")]
    for step, (pod, text) in enumerate(order):
        write(server, pod, text, now + step * 0.001)
    return order


@pytest.fixture
def env(seeded: KubeAPIServer, tmp_path: Path, isolated_home) -> dict[str, str]:
    kubeconfig = seeded.write_kubeconfig(tmp_path / "kubeconfig")
    return {"KUBECONFIG": str(kubeconfig), "NO_COLOR": "1"}


def test_logs_of_several_pods_are_merged_in_time_order_with_the_pod_as_prefix(seeded, env):
    order = interleave(seeded)
    done = run_cli("k8s", "logs", "-l", "app=dits-worker", "--grep", "marker-", env=env)
    assert done.returncode == 0, done.stderr
    shown = [line.split() for line in done.stdout.splitlines() if "marker-" in line]
    assert [(words[0], words[1]) for words in shown] == [(pod, text.split()[0]) for pod, text in order]

    as_json = run_cli("k8s", "logs", "-l", "app=dits-worker", "--grep", "marker-", "-o", "json", env=env)
    data = json.loads(as_json.stdout)
    assert [(d["pod"], d["line"]) for d in data] == order
    assert all(d["time"].endswith("Z") for d in data)


def test_follow_merges_the_backlog_then_shows_new_lines_until_ctrl_c(seeded, env):
    order = interleave(seeded)
    first, second = worker_pods(seeded)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "k8s", "logs", "-l", "app=dits-worker", "-f", "--grep", "marker-"],
        env={**os.environ, **env, "COLUMNS": "200"},
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 200),
    )
    try:
        child.expect("marker-4")
        seen = ANSI.sub("", child.before + "marker-4")
        backlog = [line.split()[:2] for line in seen.splitlines() if "marker-" in line]
        assert [(words[0], words[1]) for words in backlog] == [(pod, text.split()[0]) for pod, text in order]

        write(seeded, second, "marker-5 written while following", time.time())
        child.expect(rf"{second}\S*\s+marker-5 written while following")
        write(seeded, first, "marker-6 from the other pod", time.time())
        child.expect(rf"{first}\S*\s+marker-6 from the other pod")
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert "Traceback" not in child.before


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the child must react to Ctrl-C as a shell's would


@pytest.mark.parametrize("key", ["q", None], ids=["q", "ctrl-c"])
def test_q_or_ctrl_c_leaves_the_follow_with_exit_0_and_the_terminal_as_it_was(seeded, env, key):
    interleave(seeded)
    first, _ = worker_pods(seeded)
    # Through a shell that reports the exit status and the terminal's modes afterwards: the
    # follow reads keys in cbreak mode and must give the terminal back (canonical, echo).
    command = f"{sys.executable} -m ditsops k8s logs -l app=dits-worker -f --grep marker-"
    child = pexpect.spawn(
        "bash",
        ["--norc", "-c", f"{command}; echo exit=$?; stty -a"],
        env={**os.environ, **env, "COLUMNS": "80"},
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 80),
        preexec_fn=default_sigint,
    )
    try:
        child.expect("marker-4")
        write(seeded, first, "marker-5 still following", time.time())
        child.expect(rf"{first}\S*\s+marker-5 still following")  # live: the key comes during the follow
        if key is None:
            child.sendintr()
        else:
            child.send(key)
        child.expect("exit=0")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    modes = child.before
    assert " icanon" in modes and " echo" in modes, modes
    assert "Traceback" not in modes


def test_a_follow_started_in_the_background_keeps_following(seeded, env, tmp_path):
    # `ditsops k8s logs -f > file &` from an interactive shell: the process is not in the
    # terminal's foreground group, so it must not take the terminal for its q key (that
    # would stop it with SIGTTOU: the shell says `Stopped`) and goes on writing the lines.
    interleave(seeded)
    first, _ = worker_pods(seeded)
    out = tmp_path / "follow.log"
    shell = pexpect.spawn(
        "bash", ["--norc", "--noprofile", "-i"], env={**os.environ, **env, "PS1": "$ "}, encoding="utf-8", timeout=20
    )
    pid = None
    try:
        shell.expect_exact("$ ")
        shell.sendline(f"{sys.executable} -m ditsops k8s logs -l app=dits-worker -f --grep marker- > {out} 2>&1 &")
        shell.expect_exact("$ ")
        shell.sendline("echo pid=$!")
        shell.expect(r"pid=(\d+)")
        pid = int(shell.match.group(1))
        shell.expect_exact("$ ")
        wait_until(lambda: "marker-4" in out.read_text(), 20, "the backlog in the file")
        write(seeded, first, "marker-5 written in the background", time.time())
        wait_until(lambda: "marker-5" in out.read_text(), 20, "the new line in the file")
        shell.sendline("jobs")
        shell.expect_exact("$ ")
        assert "Running" in shell.before and "Stopped" not in shell.before, shell.before
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                os.kill(pid, signal.SIGCONT)  # a stopped one too (what this test guards against)
        shell.close(force=True)


def test_follow_and_previous_together_are_a_usage_error(isolated_home):
    done = run_cli("k8s", "logs", "-l", "app=dits-worker", "-f", "--previous")
    assert done.returncode == 2
    assert "--follow and --previous" in done.stderr


# -- the merging, in-process -------------------------------------------------------------


def test_nanosecond_stamps_order_as_times_not_as_text():
    # Go's RFC3339Nano drops trailing zeros: as text ".1Z" sorts after ".12Z".
    assert parse_stamp("2026-05-01T10:00:00.1Z") > parse_stamp("2026-05-01T10:00:00.099999999Z")
    assert parse_stamp("2026-05-01T12:00:00+02:00") == parse_stamp("2026-05-01T10:00:00Z")
    assert parse_stamp("not a time") is None
    line = stamped("pod-a", "2026-05-01T10:00:00.5Z level=error msg=x")
    assert (line.text, line.time) == ("level=error msg=x", "2026-05-01T10:00:00.5Z")
    assert stamped("pod-a", "no stamp here").text == "no stamp here"


def test_lines_of_one_instant_keep_their_order():
    lines = [StampedLine("b", "1", "t", 5), StampedLine("a", "2", "t", 5), StampedLine("a", "0", "t", 1)]
    assert [line.text for line in in_time_order(lines)] == ["0", "1", "2"]


def test_a_held_line_waits_for_an_earlier_one_from_a_slower_stream():
    buffer = Reorder(hold=0.2)
    buffer.add(StampedLine("fast", "later", "", 20), arrived=10.0)
    assert buffer.ready(10.1) == []  # still waiting for slower streams
    buffer.add(StampedLine("slow", "earlier", "", 10), arrived=10.15)
    assert [line.text for line in buffer.ready(10.4)] == ["earlier", "later"]
    buffer.add(StampedLine("fast", "last", "", 30), arrived=11.0)
    assert [line.text for line in buffer.ready(11.0, flush=True)] == ["last"]
