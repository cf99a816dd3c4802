"""An own runbook is as untrusted as an alert label: escape sequences (clipboard write,
window title, cursor moves, screen clear), raw C1 controls, bidi overrides, rich markup
and newlines in its title, summary, why, note, parameter description and escalation text,
or in a parameter value, are shown, never obeyed: by `runbook show`, the walk (and its
silence preview and amtool line) and `report`, at 80 columns, piped."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.cli import run_cli
from tests.httpcapture import CapturingServer

CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
UP = "\x1b[1A"
CSI_C1 = "\x9b2J"
RLO = "\u202e"
ISOLATE = "\u2066"
MARKUP = "[red on white]FAKE[/]"
RAW = (CLIPBOARD, TITLE, CLEAR, UP, CSI_C1, RLO, ISOLATE, "\x07")
HOSTILE = f"{CLIPBOARD}{TITLE}{CLEAR}{UP}{CSI_C1}{RLO}{ISOLATE}{MARKUP}"

RUNBOOK = {
    "name": "hostile",
    "title": f"Hostile {HOSTILE}\nFORGED TITLE LINE",
    "summary": f"Summary {HOSTILE} [bold]bold?[/bold]",
    "params": {
        "msg": {"type": "string", "default": "calm", "description": f"Desc {HOSTILE}\nFORGED DESC LINE"},
    },
    "escalation": [{"after": "15m", "say": f"Escalate {HOSTILE}\nFORGED ESCALATION LINE"}],
    "steps": [
        {"id": "look", "title": "Look at {{ msg }}", "why": f"Why {HOSTILE}", "note": f"Note {HOSTILE} {{{{ msg }}}}"},
        {
            "id": "mute",
            "title": "Mute {{ msg }}",
            "action": "silence",
            "matchers": ['alertname="{{ msg }}"'],
            "duration": "10m",
            "comment": "test",
        },
    ],
}


@pytest.fixture
def runbook(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(RUNBOOK))  # the controls travel as YAML escapes (\e, \x9b, \u202e)
    return path


@pytest.fixture
def alertmanager():
    server = CapturingServer()
    yield server
    server.close()


def joined(output: str) -> str:
    """The output with the 80-column wrapping undone (and panel borders dropped)."""
    return " ".join(output.replace("│", " ").split())


def shown_not_obeyed(output: str) -> None:
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal raw"
    text = joined(output)
    assert "\\x1b]52;c;ZXZpbA==\\x07" in text  # the clipboard write, visible as text
    assert "\\x9b2J" in text and "\\u202e" in text and "\\u2066" in text
    assert MARKUP in text  # markup printed as written, not interpreted
    for line in output.splitlines():
        assert not line.lstrip(" │|#-*").startswith("FORGED"), f"a forged line: {line!r}"
    assert "Traceback" not in output and "internal error" not in output


def test_runbook_show_shows_every_field_escaped(runbook, isolated_home):
    done = run_cli("runbook", "show", str(runbook), env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    shown_not_obeyed(done.stdout + done.stderr)
    assert "\\nFORGED DESC LINE" in joined(done.stdout)  # there, as \n
    assert "[bold]bold?[/bold]" in joined(done.stdout)


def test_the_walk_and_the_report_show_runbook_text_and_a_hostile_value_escaped(runbook, alertmanager, isolated_home):
    value = f"x{CLIPBOARD}{CSI_C1}{RLO}[blink]v[/blink]\nFORGED VALUE LINE"
    env = {"COLUMNS": "80", "DITSOPS_ALERTMANAGER_URL": alertmanager.url}
    done = run_cli("runbook", str(runbook), "--dry-run", "--non-interactive", "--set", f"msg={value}", env=env)
    assert done.returncode in (0, 3), done.stdout + done.stderr
    walk = done.stdout + done.stderr
    shown_not_obeyed(walk)
    assert "[blink]v[/blink]" in joined(walk)
    assert "amtool" in walk  # the silence preview's command line, with the value escaped in it
    report = run_cli("runbook", "report", env={"COLUMNS": "80"})
    assert report.returncode == 0, report.stderr
    shown_not_obeyed(report.stdout)
    assert report.stdout.startswith("Hostile ")
    assert "\\nFORGED TITLE LINE" in report.stdout.splitlines()[0]
    markdown = run_cli("runbook", "report", "--markdown", env={"COLUMNS": "80"})
    assert markdown.returncode == 0, markdown.stderr
    shown_not_obeyed(markdown.stdout)
    assert markdown.stdout.startswith("# Hostile ")
    assert "\\nFORGED TITLE LINE" in markdown.stdout.splitlines()[0]


def test_an_alert_label_used_as_a_parameter_is_shown_escaped(runbook, alertmanager, isolated_home):
    label = f"Boom{TITLE}{CLEAR}{RLO}[red]x[/red]\nFORGED LABEL LINE"
    alertmanager.answers["/api/v2/alerts"] = [
        {
            "labels": {"alertname": "Hostile", "msg": label, "severity": "critical"},
            "annotations": {},
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "startsAt": "2026-12-07T10:00:00Z",
            "fingerprint": "f1",
        }
    ]
    env = {"COLUMNS": "80", "DITSOPS_ALERTMANAGER_URL": alertmanager.url}
    done = run_cli("runbook", str(runbook), "--alert", "Hostile", "--dry-run", "--non-interactive", env=env)
    walk = done.stdout + done.stderr
    assert "Traceback" not in walk and "internal error" not in walk
    for raw in (TITLE, CLEAR, RLO):
        assert raw not in walk
    for line in walk.splitlines():
        assert not line.lstrip(" │|").startswith("FORGED"), line
    if done.returncode in (0, 3):  # the label became the parameter: it shows, escaped
        assert "\\x1b]0;pwned\\x07" in joined(walk)


@pytest.mark.parametrize(
    "text",
    ["\x1b[31mred", "a\u202eb", "c\x9bd", "[bold]x[/bold]", "line\nforged", "\u2069\u200f"],
    ids=["esc", "rlo", "c1", "markup", "newline", "isolate"],
)
def test_escape_line_leaves_nothing_a_terminal_would_act_on(text):
    from rich.console import Console

    from ditsops.render.cells import escape_line

    console = Console(record=True, width=200, color_system=None)
    console.print(escape_line(text))
    out = console.export_text()
    assert out.count("\n") == 1  # one line, however many the text had
    assert not any(ch in out for ch in "\x1b\x9b\u202e\u2069\u200f")
    assert json.dumps(out)  # printable either way


def test_backend_answers_outside_tables_are_shown_escaped(alertmanager, isolated_home):
    health = {"status": f"ok{CLEAR}{MARKUP}", "version": f"1{RLO}\nFORGED VERSION", "checks": []}
    alertmanager.answers["/health"] = health
    alertmanager.answers["/api/v1/query"] = {
        "status": "success",
        "warnings": [f"careful{TITLE}{MARKUP}\nFORGED WARNING"],
        "data": {"resultType": "vector", "result": [{"metric": {"job": f"j{CSI_C1}"}, "value": [1, "1"]}]},
    }
    env = {"COLUMNS": "80", "DITSOPS_DITS_URL": alertmanager.url, "DITSOPS_PROMETHEUS_URL": alertmanager.url}
    for args in (("health",), ("prom", "query", "up")):
        done = run_cli(*args, env=env)
        output = done.stdout + done.stderr
        assert "Traceback" not in output and "internal error" not in output
        for raw in RAW:
            assert raw not in output, (args, raw)
        assert MARKUP in joined(output), args
        for line in output.splitlines():
            assert not line.lstrip(" │|").startswith("FORGED"), line


def test_runbook_runs_shows_a_records_fields_as_data(isolated_home):
    runs = isolated_home.state / "ditsops" / "runs"
    runs.mkdir(parents=True, mode=0o700)
    start = {"event": "run-start", "ts": "2026-12-07T10:00:00+00:00", "runbook": f"r{CLEAR}", "by": f"a{RLO}b"}
    end = {"event": "run-end", "exit_code": 3, "reason": f"not resolved: {MARKUP}{TITLE}\nFORGED VERDICT"}
    (runs / "20261207-100000-odd.jsonl").write_text(json.dumps(start) + "\n" + json.dumps(end) + "\n")
    done = run_cli("runbook", "runs", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    for raw in RAW:
        assert raw not in done.stdout
    # The table shows the verdict's word (`not resolved`); its sentence is never a line of its own.
    assert "not resolved" in done.stdout
    assert not any(line.lstrip().startswith("FORGED") for line in done.stdout.splitlines())
    as_json = run_cli("runbook", "runs", "-o", "json")
    assert json.loads(as_json.stdout)[0]["verdict"] == end["reason"]  # kept exact as data


def test_the_confirmation_prompt_shows_an_alert_label_escaped(tmp_path, alertmanager, isolated_home):
    """On a terminal, right before `[y/N]`: the step title, the silence preview and the
    amtool line carry the label; none of them may set the title, write the clipboard or
    clear the screen. `n` adds no silence."""
    import os
    import sys

    import pexpect

    label = f"Boom{TITLE}{CLIPBOARD}{CLEAR}{CSI_C1}{RLO}[red]x[/red]\nFORGED LABEL LINE"
    alertmanager.answers["/api/v2/alerts"] = [
        {
            "labels": {"alertname": "Hostile", "msg": label, "severity": "critical"},
            "annotations": {},
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "startsAt": "2026-12-07T10:00:00Z",
            "fingerprint": "f1",
        }
    ]
    book = {
        "name": "mute",
        "title": "Mute",
        "params": {"msg": {"type": "string", "default": "x"}},
        "steps": [
            {
                "id": "mute",
                "title": "Mute {{ msg }}",
                "action": "silence",
                "matchers": ['alertname="{{ msg }}"'],
                "duration": "10m",
                "comment": "c",
            }
        ],
    }
    path = tmp_path / "mute.yaml"
    path.write_text(yaml.safe_dump(book))
    env = {**os.environ, "COLUMNS": "80", "DITSOPS_ALERTMANAGER_URL": alertmanager.url}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ditsops", "runbook", str(path), "--alert", "Hostile"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 80),
    )
    child.expect(r"\[y/N\]")
    before = child.before
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    for raw in (TITLE, CLIPBOARD, CLEAR, CSI_C1, RLO, "\x1b]"):
        assert raw not in before, raw
    assert "\\x1b]0;pwned\\x07" in before
    assert "amtool" in before
    assert not any(seen.method == "POST" for seen in alertmanager.seen)  # n: no silence added


def test_a_value_with_backticks_cannot_close_the_reports_code_block():
    from ditsops.render.report import markdown_report

    query = "SELECT 1 -- ```\n## FORGED SECTION"
    events = [{"event": "run-start", "title": "T"}, {"event": "step", "step": "a", "query": query}]
    report = markdown_report(events, "r")
    lines = report.splitlines()
    opening = next(line for line in lines if line.startswith("```"))
    assert opening == "````" and lines[lines.index(opening) + 2] == "## FORGED SECTION"
    assert lines[lines.index(opening) + 3] == "````"  # the block closes after the query, not inside it
