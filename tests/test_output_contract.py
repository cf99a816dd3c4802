"""The output contract (kubectl's): through a pipe tables have no width limit and cut
nothing; on an 80-column terminal names, ids, images, paths and URLs stay whole, and
only free text (queries, messages, titles) is cut with `…`, whole with --full.

The CLI runs as users meet it: through a pipe (a plain subprocess) and in a pseudo-terminal
80 columns wide. The renderers of commands that need a service run in-process on consoles
of the same two kinds."""

from __future__ import annotations

import io
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pexpect
import pytest
from rich.console import Console

from ditsops.clients.prometheus import PromResult, Series
from ditsops.core.db import Backend
from ditsops.core.kube import EventView
from ditsops.core.results import Preview, Table
from ditsops.core.steps.promql import summarize
from ditsops.render.console import THEME
from ditsops.render.db import render_backends
from ditsops.render.kube import render_events
from ditsops.render.prom import render_query
from ditsops.render.runbook import render_preview
from ditsops.render.tables import render_table
from tests.cli import run_cli

REPO = Path(__file__).resolve().parent.parent
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NARROW = {"COLUMNS": "80"}  # a pipe ignores it: no width limit off a terminal


def at_80_columns(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The command in a pseudo-terminal 80 columns wide: (exit code, what the screen got)."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", *args],
        env={**os.environ, **NARROW, **(env or {})},
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 80),
    )
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, ESCAPES.sub("", child.before.replace("\r\n", "\n"))


def terminal(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False, theme=THEME)
    return console, out


def pipe() -> tuple[Console, io.StringIO]:
    """What a command's console is when stdout is a pipe: not a terminal, rich's 80 columns."""
    out = io.StringIO()
    return Console(file=out, width=80, color_system=None, highlight=False, theme=THEME), out


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


# --- the CLI, piped and at 80 columns -------------------------------------------------


@pytest.fixture
def shipped(isolated_home) -> list[tuple[str, str, str, str]]:
    """(name, alert, severity, title) of every shipped runbook, read from the files."""
    import yaml

    found = []
    for path in sorted((REPO / "runbooks").glob("*.yaml")):
        book = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.append((book["name"], book.get("alert") or "", book.get("severity") or "", book["title"]))
    assert len(found) >= 10
    return found


def test_runbook_list_through_a_pipe_prints_every_row_whole_on_one_line(shipped):
    done = run_cli("runbook", "list", env=NARROW)
    assert done.returncode == 0, done.stderr
    for name, alert, severity, title in shipped:
        row = rf"^{re.escape(name)}\s+{re.escape(alert)}\s+{severity}\s+\d+\s+{re.escape(title)}$"
        assert re.search(row, done.stdout, re.M), done.stdout
    assert "…" not in done.stdout


def test_runbook_list_at_80_columns_keeps_names_and_alerts_whole(shipped):
    code, screen = at_80_columns("runbook", "list")
    assert code == 0, screen
    assert widest(screen) <= 80, screen
    for name, alert, severity, _ in shipped:
        assert re.search(rf"^{re.escape(name)}\s+{re.escape(alert)}\s+{severity}\s", screen, re.M), screen


@pytest.fixture
def long_profile(isolated_home) -> Path:
    config = isolated_home.config / "ditsops" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[profiles.oncall-production-eu-west-1]\n"
        'dsn = "postgresql://ditsops_ro:s3cret@db-primary.prod.eu-west-1.internal.example.com:5432/dits"\n'
        'prometheus_url = "https://prometheus.monitoring.prod.eu-west-1.internal.example.com:9090"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("where", ["pipe", "80 columns"])
def test_config_show_keeps_source_and_value_whole(long_profile, where):
    args = ("--profile", "oncall-production-eu-west-1", "config", "show")
    if where == "pipe":
        done = run_cli(*args, env=NARROW)
        code, text = done.returncode, done.stdout
    else:
        code, text = at_80_columns(*args)
    assert code == 0, text
    source = r"profile oncall-production-eu-west-1"
    dsn = re.escape("postgresql://ditsops_ro:***@db-primary.prod.eu-west-1.internal.example.com:5432/dits")
    url = re.escape("https://prometheus.monitoring.prod.eu-west-1.internal.example.com:9090")
    assert re.search(rf"^dsn\s+{source}\s+{dsn}$", text, re.M), text
    assert re.search(rf"^prometheus_url\s+{source}\s+{url}$", text, re.M), text
    assert re.search(r"^statement_timeout\s+default\s+30s$", text, re.M), text
    assert "s3cret" not in text


@pytest.fixture
def deep_runbook(tmp_path) -> Path:
    """A valid runbook at a path longer than the terminal is wide."""
    folder = tmp_path / "runbooks-of-the-platform-team-kept-in-a-deliberately-long-folder-name" / "latency"
    folder.mkdir(parents=True)
    path = folder / "high-latency.yaml"
    path.write_text((REPO / "runbooks" / "high-latency.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert len(str(path)) > 80
    return path


@pytest.mark.parametrize("where", ["pipe", "80 columns"])
def test_runbook_lint_prints_a_long_path_unbroken(isolated_home, deep_runbook, where):
    if where == "pipe":
        done = run_cli("runbook", "lint", str(deep_runbook.parent), env=NARROW)
        code, text = done.returncode, done.stdout
    else:
        code, text = at_80_columns("runbook", "lint", str(deep_runbook.parent))
    assert code == 0, text
    # one line: the terminal may wrap it on screen, but no newline is written inside the path
    assert re.search(rf"^ok {re.escape(str(deep_runbook))} \(\d+ steps\)$", text, re.M), text


# --- renderers of commands that need a service, on an 80-column terminal and a pipe ---

POD = "dits-server-7c9d8f6b5-x7k2p"


def range_result() -> PromResult:
    points = tuple((1_700_000_000.0 + 15 * i, float(i % 17)) for i in range(240))
    return PromResult(
        "matrix",
        [
            Series({"instance": f"{POD}:8080", "job": "dits-server"}, value=points[-1][1], points=points),
            Series({"instance": "dits-server-7c9d8f6b5-q4m9z:8080", "job": "dits-server"}, value=3.0, points=points),
        ],
    )


def test_prom_range_at_80_columns_keeps_min_max_and_last():
    console, out = terminal()
    render_query(console, summarize(range_result(), unit="per-second"), [], "per-second")
    text = out.getvalue()
    assert widest(text) <= 80, text
    assert re.search(r"^instance\s+trend\s+min\s+max\s+last$", text, re.M), text
    row = next(line for line in text.splitlines() if line.startswith(f"{POD}:8080"))
    assert row.split()[1].startswith("…")  # the sparkline loses its oldest points, not the columns
    assert len(row.split()) >= 5, row  # instance, trend, min, max, last


def test_prom_range_through_a_pipe_keeps_the_whole_sparkline():
    console, out = pipe()
    render_query(console, summarize(range_result()), [], None)
    row = next(line for line in out.getvalue().splitlines() if line.startswith(f"{POD}:8080"))
    trend = row.split()[1]
    assert len(trend) == 240 and "…" not in trend


def undo_preview() -> Preview:
    return Preview(
        target="dits-server",
        summary="roll back deployment dits-server to revision 3",
        table=Table(
            ("change", "before", "after"),
            [
                (
                    "image of container dits-server",
                    "registry.dits.dev/dits-server:2.5.0-rc.1-4f2a9c1",
                    "registry.dits.dev/dits-server:2.4.3",
                )
            ],
        ),
        command="kubectl rollout undo deployment/dits-server --to-revision=3 --namespace dits",
    )


@pytest.mark.parametrize("make", [terminal, pipe], ids=["80 columns", "pipe"])
def test_the_undo_preview_shows_both_images_whole(make):
    console, out = make()
    render_preview(console, undo_preview())
    text = out.getvalue()
    assert "registry.dits.dev/dits-server:2.5.0-rc.1-4f2a9c1" in text
    assert "registry.dits.dev/dits-server:2.4.3" in text
    assert "…" not in text


def events() -> list[EventView]:
    message = (
        f'Failed to pull image "registry.dits.dev/dits-server:2.5.0-rc.1": rpc error: code = NotFound '
        f"desc = failed to pull and unpack image: manifest unknown (pod {POD})"
    )
    return [
        EventView("Warning", "Failed", f"Pod/{POD}", message, 4, 12.0),
        EventView("Normal", "ScalingReplicaSet", "Deployment/dits-server", "Scaled up replica set to 3", 1, 40.0),
    ]


def test_events_at_80_columns_are_one_line_each_the_object_whole():
    console, out = terminal()
    render_events(console, events())
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines  # the header and one line an event: no three-line cells
    assert all(len(line) <= 80 for line in lines), lines
    assert f"Pod/{POD}" in lines[1] and lines[1].endswith("…")  # free text cut, --full shows it
    assert "Deployment/dits-server" in lines[2] and re.search(r"\sScaled up r.*(3|…)$", lines[2])


def test_events_whole_through_a_pipe_and_with_full():
    console, out = pipe()
    render_events(console, events())
    assert events()[0].message in out.getvalue().splitlines()[1]
    console, out = terminal()
    render_events(console, events(), full=True)
    text = out.getvalue()
    assert widest(text) <= 80, text
    assert " ".join(events()[0].message.split()) in " ".join(text.split()), text  # folded at spaces, whole
    assert f"Pod/{POD}" in text


def test_a_query_is_whole_through_a_pipe_and_cut_at_80_columns():
    query = "SELECT d.id, d.path, sum(c.size) FROM dits_objects d JOIN dits_chunks c ON c.object_id = d.id " * 2
    started = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    backend = Backend(
        pid=4242, backend_start=started, database="dits", user="dits_app", application="dits-server",
        client="10.0.0.7", state="active", wait_event_type=None, wait_event=None, query_start=started,
        xact_start=started, query_age=312.0, state_age=312.0, xact_age=312.0, query=query,
    )  # fmt: skip
    console, out = pipe()
    render_backends(console, [backend], title="Long queries", empty="none")
    assert " ".join(query.split()) in out.getvalue()
    console, out = terminal()
    render_backends(console, [backend], title="Long queries", empty="none")
    text = out.getvalue()
    assert widest(text) <= 80 and "…" in text
    assert re.search(r"^4242\s", text, re.M)


def test_identifiers_longer_than_the_terminal_are_printed_as_records_not_cut():
    url = "https://alertmanager.monitoring.prod.eu-west-1.internal.example.com:9093/#/silences/" + "a" * 36
    table = Table(("silence", "link", "comment"), [("3f1c9a", url, "maintenance window for the db-primary failover")])
    console, out = terminal()
    render_table(console, table)
    text = out.getvalue()
    assert re.search(rf"^link\s+{re.escape(url)}$", text, re.M), text  # whole, on its own line
    assert re.search(r"^silence\s+3f1c9a$", text, re.M), text
