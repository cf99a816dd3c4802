"""`runbook runs` without a filter: the latest by run id (it starts with the run's start, to
the second), read from the records themselves; what it skips, how it orders a second's
runs, and what it leaves unimported."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ditsops.core.results import Status
from ditsops.core.runs import RunFilter, run_page
from ditsops.render.console import STATUS_MARK, STATUS_STYLE
from ditsops.render.lines import line, out_for
from ditsops.render.runs import short_ids
from tests.test_runs_listing import write_record
from tests.test_store_reader import probe


def test_runs_started_in_the_same_second_are_ordered_by_their_recorded_start(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = write_record(runs, 0)
    # same second in the id, a name sorting before the first's, started 0.5 s later
    later = first.replace("high-error-rate", "a-book")
    text = (runs / f"{first}.jsonl").read_text().replace(":00+00:00", ":00.500000+00:00", 1)
    (runs / f"{later}.jsonl").write_text(text.replace(first, later))
    assert later < first
    assert [r.run_id for r in run_page(runs, RunFilter(limit=1)).runs] == [later]
    assert [r.run_id for r in run_page(runs, RunFilter(limit=None)).runs] == [first, later]


def test_a_fifo_among_the_latest_is_skipped_and_the_limit_still_filled(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ids = [write_record(runs, n) for n in range(5)]
    os.mkfifo(runs / "29991231T235959Z-evil-00.jsonl")  # the newest name: a read would hang
    (runs / "29991231T235959Z-link-00.jsonl").symlink_to("/dev/zero")
    page = run_page(runs, RunFilter(limit=3))
    assert [r.run_id for r in page.runs] == ids[-3:] and page.total == 5


def test_a_shown_id_is_cut_where_it_differs_from_one_not_shown(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    old = write_record(runs, 0)
    twin = old[:-1] + ("1" if old[-1] != "1" else "2")  # the same but its last character
    (runs / f"{twin}.jsonl").write_text((runs / f"{old}.jsonl").read_text().replace("02:00:00", "01:59:59"))
    newest = write_record(runs, 1)
    page = run_page(runs, RunFilter(limit=2))
    shown = short_ids([r.run_id for r in page.runs], page.ids)
    assert newest in [r.run_id for r in page.runs] and page.total == 3
    kept = next(r.run_id for r in page.runs if r.run_id in (old, twin))
    assert shown[kept] == kept  # whole: one character less would name both twins


def test_every_step_status_has_a_style_and_a_mark() -> None:
    assert set(STATUS_STYLE) == set(STATUS_MARK) == {status.value for status in Status}
    assert all(STATUS_STYLE.get(status) for status in Status)  # looked up by the enum itself


def test_the_local_listing_imports_neither_the_walk_nor_psycopg(tmp_path: Path) -> None:
    runs = tmp_path / "state" / "ditsops" / "runs"
    ids = [write_record(runs, n) for n in range(30)]
    code, modules, out, err = probe(tmp_path, "", "runbook", "runs")
    assert (code, err) == (0, ""), err
    assert ids[-1][:16] in out.splitlines()[-2] and "(10 older not shown" in out
    heavy = sorted(
        m for m in modules if m.startswith(("psycopg", "rich", "ditsops.cli.launch", "ditsops.cli.runbook_"))
    )
    assert not heavy, heavy


@pytest.mark.parametrize(
    ("isatty", "environ", "width", "color"),
    [
        (False, {}, 80, False),  # a pipe: no colour, 80 columns
        (False, {"COLUMNS": "132"}, 132, False),
        (False, {"FORCE_COLOR": "1"}, 80, True),
        (True, {"COLUMNS": "100"}, 100, True),
        (True, {"COLUMNS": "100", "NO_COLOR": ""}, 100, False),  # NO_COLOR set at all, even empty
        (True, {"COLUMNS": "100", "TERM": "dumb"}, 100, False),
        (False, {"COLUMNS": "wide"}, 80, False),
    ],
)
def test_a_listing_is_coloured_and_sized_as_the_consoles_would_be(
    isatty: bool, environ: dict[str, str], width: int, color: bool
) -> None:
    stream = io.StringIO()
    out = out_for(stream, isatty=isatty, environ=environ)
    assert (out.width, out.color) == (width, color)
    line(out, ("ok", "ok"), (" \x1b[2J[red]text[/]", ""))
    written = stream.getvalue()
    assert ("\x1b[32mok\x1b[0m" in written) is color
    assert written.endswith(" \x1b[2J[red]text[/]\n")  # as given: the renderers fold controls before this


def test_hostile_record_text_reaches_the_listing_folded_never_as_a_control(tmp_path: Path) -> None:
    runs = tmp_path / "state" / "ditsops" / "runs"
    write_record(runs, 0, by="eve\x1b[2J\u202eevil[bold]x[/bold]\nforged line")
    code, _, out, err = probe(tmp_path, "", "runbook", "runs")
    assert (code, err) == (0, "")
    assert "\x1b" not in out and "\u202e" not in out and len(out.splitlines()) == 2
    assert "eve\\x1b[2J" in out
