"""`--watch [INTERVAL]` as engineers type it, on every live view (no service needed)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ditsops.cli.main import app
from ditsops.cli.watcharg import spell_out_watch_interval


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        (["alerts", "--watch"], ["alerts", "--watch"]),
        (["alerts", "--watch", "5s"], ["alerts", "--watch", "--interval", "5s"]),
        (["alerts", "-w", "500ms"], ["alerts", "--watch", "--interval", "500ms"]),
        (["alerts", "--watch=1m30s"], ["alerts", "--watch", "--interval", "1m30s"]),
        (["db", "activity", "--watch", "2"], ["db", "activity", "--watch", "--interval", "2"]),
        # Not an interval: the dashboard's name stays the command's argument.
        (["dash", "--watch", "overview"], ["dash", "--watch", "overview"]),
        (["k8s", "logs", "--", "--watch", "5s"], ["k8s", "logs", "--", "--watch", "5s"]),
    ],
)
def test_the_word_after_watch_is_its_interval_only_when_it_reads_as_one(typed: list[str], read: list[str]) -> None:
    assert spell_out_watch_interval(typed) == read


def test_a_bad_interval_is_one_line_and_exit_2(isolated_home: object) -> None:
    done = CliRunner().invoke(app, ["health", "--watch=50ms"])
    assert done.exit_code == 2
    assert "--interval" in done.output and "too short" in done.output
    assert "Traceback" not in done.output


@pytest.mark.parametrize(
    "command", [["alerts"], ["health"], ["db", "activity"], ["db", "blocking"], ["k8s", "status"], ["dash"]]
)
def test_every_live_view_documents_watch_with_its_interval(command: list[str]) -> None:
    done = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "--watch" in done.output and "INTERVAL" in done.output and "q or Ctrl-C" in done.output


def test_an_interval_beyond_a_day_is_a_usage_error_not_a_traceback(isolated_home: object) -> None:
    done = CliRunner().invoke(app, ["health", "--watch", "10000000000"])
    assert done.exit_code == 2 and "too long" in done.output and "Traceback" not in done.output
