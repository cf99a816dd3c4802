"""Fuzzing with hypothesis: no input to the loader, the template engine, matcher parsing or
duration/parameter conversion gives anything but the project's DitsopsError family (or a
ValueError where that is the documented contract). Reproducible under CI (derandomized)."""

from __future__ import annotations

import os
import string
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ditsops.base.durations import format_duration, parse_duration, to_prometheus
from ditsops.base.errors import DitsopsError, RunbookError
from ditsops.core.loader import load_runbook, parse_runbook, resolve_params
from ditsops.core.params import TYPES, ParamSpec, convert, display
from ditsops.core.template import malformed, references, references_in, render_text, resolve, to_bound_sql
from tests.cli import run_cli

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# YAML-ish documents: the keys a runbook uses, step kinds, placeholders, odd scalars.
KEYS = st.sampled_from(
    [
        "name",
        "title",
        "steps",
        "params",
        "id",
        "sql",
        "promql",
        "kube",
        "action",
        "note",
        "when",
        "threshold",
        "filters",
        "selector",
        "matchers",
        "duration",
        "type",
        "default",
        "escalation",
        "after",
        "say",
        "unit",
        "verify",
        "warn",
        "fail",
        "min",
        "max",
        "choices",
        "required",
        "<<",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "{{ x }}",
            "{{",
            "}}",
            "{{ window }}",
            "5m",
            "1h30m",
            "logs",
            "terminate-backends",
            "silence",
            "rollout-undo",
            "a=b",
            "x failing",
            "!!binary",
            "~",
            "&a",
            "*a",
            "2024-13-45",
            "0x1F",
        ]
    ),
)
DOCS = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=6)),
    max_leaves=40,
)


def _check_loader(path: Path) -> None:
    try:
        load_runbook(path)
    except RunbookError as error:
        assert error.problems and all(len(p) < 2000 for p in error.problems)


@given(doc=DOCS)
def test_loader_random_documents(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("fuzz") / "sample.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    _check_loader(path)


@given(doc=st.fixed_dictionaries({"name": st.just("sample"), "title": st.text(max_size=10), "steps": DOCS}))
def test_loader_random_runbook_shapes(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("fuzz") / "sample.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    _check_loader(path)


YAML_BITS = st.sampled_from(
    [
        "name: sample\n",
        "title: T\n",
        "steps:\n",
        "  - id: a\n",
        "    title: A\n",
        "    note: hi\n",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: *a\n",
        "!!int ",
        "!!python/object ",
        "- ",
        ": ",
        "\t",
        "'",
        '"',
        "\\",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "? ",
        "|\n",
        ">-\n",
        "#",
        "\x00",
        "\ufeff",
        "é",
        "1e9999",
        "2024-02-30",
        "0o777",
        "\r\n",
    ]
)


@given(parts=st.lists(YAML_BITS, max_size=40))
def test_loader_random_yaml_text(tmp_path_factory, parts):
    path = tmp_path_factory.mktemp("fuzz") / "sample.yaml"
    path.write_text("".join(parts), encoding="utf-8")
    _check_loader(path)


@given(data=st.binary(max_size=400))
def test_loader_random_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "sample.yaml"
    path.write_bytes(data)
    _check_loader(path)


@given(text=st.text(max_size=300))
def test_parse_runbook_random_text(text):
    try:
        parse_runbook(text, Path("sample.yaml"))
    except RunbookError:
        pass


# -- templates ----------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
TEMPLATE_BITS = st.one_of(
    st.text(alphabet=string.printable, max_size=8),
    NAMES.map(lambda n: "{{ " + n + " }}"),
    NAMES.map(lambda n: "{{" + n + "}}"),
    st.sampled_from(["{{", "}}", "{{ }}", "{{ 1x }}", "%", "%%", "%(x)s", "{{{{ a }}}}"]),
)
VALUES = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.integers(min_value=0, max_value=10**6).map(lambda s: timedelta(seconds=s)),
)


@given(parts=st.lists(TEMPLATE_BITS, max_size=12), values=st.dictionaries(NAMES, VALUES, max_size=6))
def test_template_engine(parts, values):
    text = "".join(parts)
    names = references(text)
    assert names == references_in(text) == references_in([text]) == references_in({"k": text})
    malformed(text)
    sql, bound = to_bound_sql(text)
    assert set(bound) == names
    params = {**{n: "v" for n in names}, **values}
    rendered = render_text(text, params)
    assert "{{ " + "x" + " }}" not in rendered or "x" not in names
    resolve({"a": [text], "b": text}, params)


@given(parts=st.lists(TEMPLATE_BITS, max_size=12))
def test_template_missing_parameter_is_a_key_error_only(parts):
    """Templates are checked against params at load time; a missing one is KeyError (a bug
    upstream), never something else."""
    text = "".join(parts)
    try:
        render_text(text, {})
    except KeyError:
        assert references(text)


# -- matchers -----------------------------------------------------------------------------


@given(text=st.text(max_size=60))
def test_matcher_parse(text):
    from ditsops.clients.alertmanager import Matcher

    try:
        matcher = Matcher.parse(text)
    except DitsopsError:
        return
    matcher.describe()
    matcher.to_api()


@given(text=st.text(max_size=60), values=st.dictionaries(NAMES, st.text(max_size=10), max_size=3))
def test_matcher_templates(text, values):
    matchers = pytest.importorskip("ditsops.core.matchers")
    try:
        template = matchers.MatcherTemplate.parse(text)
    except (DitsopsError, matchers.MatcherSyntaxError):
        return
    params = {**{n: "v" for n in template.references}, **values}
    matchers.matcher_text(template.fill(params))


# -- durations and parameters -------------------------------------------------------------


@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"(\d{1,40}(ms|s|m|h|d|w)){1,4}", fullmatch=True)))
def test_parse_duration(text):
    try:
        value = parse_duration(text)
    except ValueError:
        return
    format_duration(value)
    to_prometheus(value)


@given(seconds=st.one_of(st.floats(), st.integers(min_value=-(10**12), max_value=10**12)))
def test_format_duration(seconds):
    assert format_duration(seconds)


@given(
    kind=st.sampled_from(TYPES),
    raw=st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.booleans(), st.none()),
    bounds=st.tuples(st.none() | st.floats(allow_nan=False), st.none() | st.floats(allow_nan=False)),
)
def test_convert(kind, raw, bounds):
    spec = ParamSpec("p", kind, minimum=bounds[0], maximum=bounds[1], choices=("a", "b"))
    try:
        value = convert(spec, raw)
    except ValueError:
        return
    display(value)


@given(values=st.dictionaries(st.sampled_from(["window", "replicas", "name", "x"]), st.text(max_size=20), max_size=4))
def test_resolve_params(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("fuzz") / "sample.yaml"
    path.write_text(
        "name: sample\ntitle: T\nparams:\n  window: {type: duration, default: 5m}\n"
        "  replicas: {type: integer, default: 3, min: 1, max: 20}\n  name: {type: name, default: dits}\n"
        "steps:\n  - {id: a, title: A, note: '{{ name }} {{ window }} {{ replicas }}'}\n"
    )
    book = load_runbook(path)
    try:
        resolve_params(book, values)
    except DitsopsError:
        pass


# -- through the CLI ----------------------------------------------------------------------


@settings(max_examples=5, deadline=None, derandomize=True)
@given(doc=st.fixed_dictionaries({"name": st.just("fuzzed"), "title": st.just("T"), "steps": DOCS}))
def test_cli_lint_generated_runbooks(tmp_path_factory, doc):
    home = tmp_path_factory.mktemp("home")
    path = home / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    done = run_cli("runbook", "lint", str(path), env={"XDG_CONFIG_HOME": str(home), "XDG_STATE_HOME": str(home)})
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
