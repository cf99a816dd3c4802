"""Loading runbooks: every problem named with file, line and what was expected."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from ditsops.base.errors import RunbookError, UsageError
from ditsops.core.catalog import catalog
from ditsops.core.loader import load_runbook, resolve_params
from tests.cli import run_cli


def write(tmp_path, body: str, name: str = "sample"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


GOOD = """
    name: sample
    title: Sample
    params:
      older_than: {type: duration, default: 5m}
      replicas: {type: integer, default: 3, min: 1, max: 20}
    steps:
      - id: count
        title: Count
        sql: SELECT count(*) AS n FROM pg_stat_activity WHERE now() - state_change > {{ older_than }}
        value: n
        threshold: {warn: 5, fail: 10}
      - id: fix
        title: Fix
        when: count failing
        action: terminate-backends
        filters: {older_than: "{{ older_than }}"}
"""


def problems_of(path) -> list[str]:
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    return caught.value.problems


def test_a_good_runbook_loads_with_typed_defaults(tmp_path):
    book = load_runbook(write(tmp_path, GOOD))
    assert [s.id for s in book.steps] == ["count", "fix"]
    assert book.param("older_than").default == timedelta(minutes=5)
    assert book.steps[1].kind == "action:terminate-backends"
    assert book.steps[1].when[0].describe() == "count failing"


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "name: x\ntitle: [unclosed\nsteps: []\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3: invalid YAML")


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = write(
        tmp_path,
        """
        name: sample
        title: Sample
        colour: blue
        params:
          older_than: {type: duration, default: soon}
        steps:
          - id: count
            title: Count
            sql: SELECT {{ missing }}
            threshold: {warn: 10, fail: 5}
          - id: fix
            title: Fix
            when: later failing
            action: terminate-backends
            filters: {}
          - id: count
            title: Twice
            note: again
          - id: nothing
            title: No kind
    """,
    )
    problems = problems_of(path)
    expected = [
        (3, "unknown key 'colour' in runbook"),
        (5, "parameter 'older_than': default 'soon' is not a duration"),
        (9, "step 'count': uses {{ missing }} but the runbook has no parameter 'missing'"),
        (10, "step 'count': warn must come before fail"),
        (13, "step 'fix': refers to step 'later', which is not an earlier step"),
        (15, "step 'fix': terminate-backends needs at least one filter"),
        (16, "step id 'count' is used twice (first at line 7)"),
        (19, "step 'nothing': needs exactly one of"),
    ]
    for line, text in expected:
        assert any(p.startswith(f"{path}:{line}: ") and text in p for p in problems), (line, text, problems)


def test_conditions_are_declarative_never_code(tmp_path):
    path = write(tmp_path, GOOD.replace("when: count failing", "when: __import__('os').system('true')"))
    [problem] = problems_of(path)
    assert ":14: step 'fix': cannot read condition" in problem


def test_unknown_action_lists_the_known_ones(tmp_path):
    path = write(tmp_path, GOOD.replace("action: terminate-backends", "action: drop-database"))
    [problem] = problems_of(path)
    assert (
        "unknown action 'drop-database' (expected one of: cancel-backends, expire-silence, silence, terminate-backends)"
        in problem
    )


def test_destructive_is_the_kind_not_the_author(tmp_path):
    path = write(tmp_path, GOOD.replace("filters:", "destructive: false\n        filters:"))
    [problem] = problems_of(path)
    assert "unknown key 'destructive'" in problem


def test_name_must_match_the_file(tmp_path):
    [problem] = problems_of(write(tmp_path, GOOD, name="other"))
    assert "name 'sample' must match the file name 'other'" in problem


def test_parameters_are_validated_by_type(tmp_path):
    book = load_runbook(write(tmp_path, GOOD))
    assert resolve_params(book, {"replicas": "7"})["replicas"] == 7
    for given, message in (
        ({"replicas": "0"}, "below the minimum 1"),
        ({"replicas": "many"}, "is not an integer"),
        ({"older_than": "5 minutes"}, "is not a duration"),
        ({"nope": "1"}, "has no parameter nope"),
    ):
        with pytest.raises(UsageError, match=message):
            resolve_params(book, given)


def test_shipped_runbooks_all_load():
    entries = catalog()
    assert any(e.path.stem == "db-connections-exhausted" for e in entries)
    assert [e.problems for e in entries if e.problems] == []


def test_lint_exits_2_naming_file_and_line(tmp_path, isolated_home):
    bad = write(tmp_path, GOOD.replace("value: n", "value: n\n        unit: furlongs"))
    done = run_cli("runbook", "lint", str(bad))
    assert done.returncode == 2
    assert f"{bad}:11: step 'count': unit must be one of" in done.stderr
    assert "Traceback" not in done.stderr
    assert "ok " in done.stdout  # the shipped runbooks were checked first


def test_lint_passes_on_shipped_runbooks(isolated_home):
    done = run_cli("runbook", "lint")
    assert done.returncode == 0, done.stderr
    assert "db-connections-exhausted.yaml (" in done.stdout
    assert done.stdout.count("ok ") == len(catalog())


def test_running_a_malformed_runbook_exits_2(tmp_path, isolated_home):
    bad = write(tmp_path, "name: sample\ntitle: x\nsteps:\n  - id: a\n    title: A\n    sql: 42\n")
    done = run_cli("runbook", str(bad))
    assert done.returncode == 2
    assert f"{bad}:6: step 'a': 'sql' must be a query" in done.stderr


def test_user_runbooks_are_listed(isolated_home):
    own = isolated_home.config / "ditsops" / "runbooks"
    own.mkdir(parents=True)
    (own / "mine.yaml").write_text("name: mine\ntitle: My own\nsteps:\n  - {id: a, title: A, note: do it}\n")
    done = run_cli("runbook", "list", "--output", "json")
    names = {entry["name"] for entry in __import__("json").loads(done.stdout)}
    assert {"mine", "db-connections-exhausted"} <= names
