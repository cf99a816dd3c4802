"""The runbook index behind `runbook list` (core/runbook_index.py): a file that changes is
read again, whatever changed about it; an index that is corrupt, of the wrong shape or
unwritable is ignored and the listing is still right. In-process, no service."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ditsops.core import catalog, runbook_index

RUNBOOK = """\
name: own-check
title: {title}
alert: OwnAlert
steps:
  - {{id: up, title: Up, promql: up}}
"""


@pytest.fixture
def own(isolated_home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An own runbook in an isolated config dir, with the index in an isolated cache dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory = isolated_home.config / "ditsops" / "runbooks"
    directory.mkdir(parents=True)
    path = directory / "own-check.yaml"
    path.write_text(RUNBOOK.format(title="First title"), encoding="utf-8")
    return path


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the index had to parse, in order."""
    seen: list[Path] = []
    real = runbook_index.summarize

    def counting(path: Path) -> runbook_index.Indexed:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(runbook_index, "summarize", counting)
    return seen


def _listed(name: str) -> catalog.ListedRunbook:
    return next(entry for entry in catalog.listing() if entry.path.stem == name)


def test_unchanged_files_are_not_parsed_again(own: Path, parsed: list[Path]) -> None:
    first = catalog.listing()
    assert len(parsed) == len(first) >= 11  # the shipped runbooks and the own one, once
    assert runbook_index.index_file().is_file()
    parsed.clear()
    assert catalog.listing() == first
    assert parsed == []
    entry = _listed("own-check")
    assert (entry.runbook.title, entry.runbook.alert, entry.runbook.steps) == ("First title", "OwnAlert", ("up",))


def test_an_edit_of_the_same_size_with_a_new_mtime_is_read_again(own: Path, parsed: list[Path]) -> None:
    assert _listed("own-check").runbook.title == "First title"
    before = os.stat(own)
    own.write_text(RUNBOOK.format(title="Other title"), encoding="utf-8")  # same length
    os.utime(own, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    parsed.clear()
    assert _listed("own-check").runbook.title == "Other title"
    assert parsed == [own]


def test_a_size_change_is_read_again_even_with_the_old_mtime(own: Path, parsed: list[Path]) -> None:
    assert _listed("own-check").runbook.title == "First title"
    before = os.stat(own)
    own.write_text(RUNBOOK.format(title="A much longer title than before"), encoding="utf-8")
    os.utime(own, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back, as `cp -p` or a tar would
    assert _listed("own-check").runbook.title == "A much longer title than before"


def test_a_file_that_became_invalid_is_listed_with_its_problem(own: Path) -> None:
    assert _listed("own-check").runbook is not None
    own.write_text("name: own-check\ntitle: Broken\nsteps: []\n", encoding="utf-8")
    entry = _listed("own-check")
    assert entry.runbook is None and "'steps' must be a non-empty list" in entry.problems[0]


def test_a_removed_file_leaves_the_listing_and_the_index(own: Path) -> None:
    catalog.listing()
    own.unlink()
    assert "own-check" not in [entry.path.stem for entry in catalog.listing()]
    files = json.loads(runbook_index.index_file().read_text(encoding="utf-8"))["files"]
    assert str(own) not in files


@pytest.mark.parametrize(
    "corrupt",
    [
        "{not json",
        "",
        "[]",
        '{"format": 1}',
        "\x00\xff garbage",
        "SHAPE",  # valid JSON of this ditsops, with a summary of the wrong types
    ],
    ids=["truncated", "empty", "a list", "no files", "binary", "wrong shape"],
)
def test_a_corrupt_index_is_ignored_and_rebuilt(own: Path, parsed: list[Path], corrupt: str) -> None:
    expected = catalog.listing()
    where = runbook_index.index_file()
    if corrupt == "SHAPE":
        document = json.loads(where.read_text(encoding="utf-8"))
        document["files"][str(own)]["summary"] = {"name": 5, "title": None, "alert": [], "severity": 1, "steps": 3}
        corrupt = json.dumps(document)
    where.write_bytes(corrupt.encode("utf-8", "surrogateescape"))
    parsed.clear()
    assert catalog.listing() == expected
    assert parsed  # read from the files again
    json.loads(where.read_text(encoding="utf-8"))  # and the index written whole once more
    parsed.clear()
    assert catalog.listing() == expected and parsed == []


def test_an_index_entry_for_another_version_of_the_file_is_not_trusted(own: Path) -> None:
    """An index that claims a title for the file under another key (an older copy, another
    file at that path) does not decide what the listing shows."""
    catalog.listing()
    where = runbook_index.index_file()
    document = json.loads(where.read_text(encoding="utf-8"))
    entry = document["files"][str(own)]
    entry["summary"]["title"] = "Forged title"
    entry["key"][0] += 1  # another size than the file has
    where.write_text(json.dumps(document), encoding="utf-8")
    assert _listed("own-check").runbook.title == "First title"


def test_an_unwritable_cache_directory_does_not_stop_the_listing(own: Path, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert _listed("own-check").runbook.title == "First title"
    assert list(tmp_path.glob(".runbook-index-*")) == []


def test_another_ditsops_index_is_not_trusted(own: Path, parsed: list[Path], monkeypatch) -> None:
    catalog.listing()
    monkeypatch.setattr(runbook_index, "code_stamp", lambda: "9.9.9:edited")
    parsed.clear()
    catalog.listing()
    assert len(parsed) >= 11  # every file judged again by this loader


def test_an_index_entry_naming_another_runbook_than_its_file_is_not_trusted(own: Path, parsed: list[Path]) -> None:
    # A runbook is named after its file (the loader insists); an index that says otherwise
    # was not written by ditsops and decides nothing.
    catalog.listing()
    where = runbook_index.index_file()
    document = json.loads(where.read_text(encoding="utf-8"))
    document["files"][str(own)]["summary"]["name"] = "rm-rf-prod"
    where.write_text(json.dumps(document), encoding="utf-8")
    parsed.clear()
    assert [entry.runbook.name for entry in catalog.listing() if entry.path == own] == ["own-check"]
    assert parsed  # the files were read again


def test_an_edited_sql_diagnostic_has_the_runbooks_judged_again(
    own: Path, parsed: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runbook naming a diagnostic is valid only while the diagnostic exists: the index of
    # a checkout whose sql/ changed is stale.
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "q.sql").write_text("SELECT 1", encoding="utf-8")
    monkeypatch.setattr(runbook_index, "_SQL", sql)
    catalog.listing()
    parsed.clear()
    os.utime(sql / "q.sql", ns=(time.time_ns(), time.time_ns() + 10**9))
    catalog.listing()
    assert parsed
