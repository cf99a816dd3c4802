"""Dashboard template variables resolved as Grafana resolves them on load.

grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/ and Grafana's
public/app/features/variables/ (query/reducer.ts metricNamesToVariableValues,
shared/sortVariableValues, state/actions.ts validateVariableSelectionState):

- Order: a variable whose query, regex or all value names another waits for it (chained
  variables); a cycle is refused with one line (exit 2).
- query (Prometheus, public/app/plugins/datasource/prometheus/metric_find_query.ts):
  `label_values(label)`, `label_values(selector, label)` (/api/v1/label/<l>/values with
  match[]), `label_names()` (/api/v1/labels), `metrics(regex)` (__name__ values matching
  regex), `query_result(expr)` (an instant query, each sample as `name{labels} value time`).
  Then `regex` (JS /…/flags; the first capture group, or named groups text/value, is the
  option; a value it does not match is left out), duplicates dropped, `sort` applied.
  `refresh: 0` (never) keeps the saved options instead of asking.
- The saved `current` stays when it is still among the options, else the first option
  ("All" first when includeAll).
- custom (`a,b,c`, `text : value`), interval (with `auto`: the range / auto_count, at least
  auto_min), constant, textbox (its current text, else its query), adhoc (no filter: empty),
  datasource (the configured Prometheus for type prometheus).
- A query that fails, or finds nothing, leaves the variable empty with a note; the panels
  still draw. A variable on another data source type (Loki…) is empty with a note too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, cast

from ditsops.base.durations import parse_duration, to_prometheus
from ditsops.base.errors import DitsopsError, UsageError
from ditsops.core.dashformat import ALL, Value, VarValue, plain, references, substitute
from ditsops.core.dashsource import PROMETHEUS, not_configured

MAX_OPTIONS = 1000  # options kept per variable (a label with 100k values is not a menu)
MAX_VARIABLES = 200
MAX_REGEX = 2000
MAX_SCANNED = 20_000  # values a variable's regex is tried on
MAX_VALUE = 1_000  # characters of each
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)
_LABEL_NAMES = re.compile(r"^\s*label_names\(\s*(.*?)\s*\)\s*$", re.S)
_METRICS = re.compile(r"^\s*metrics\((.+)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.+)\)\s*$", re.S)
_ROUND = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


class PromMetadata(Protocol):
    """The Prometheus API calls a query variable makes (clients/prometheus.PrometheusClient)."""

    def label_values(self, label: str, match: str | None, start: datetime, end: datetime) -> list[str]: ...

    def label_names(self, match: str | None, start: datetime, end: datetime) -> list[str]: ...

    def query(self, expr: str, at: datetime | None = None) -> object: ...


@dataclass(frozen=True)
class Variable:
    name: str
    type: str  # query | custom | constant | interval | textbox | datasource | adhoc
    query: str = ""
    current: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # (text, value) as saved
    label: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    regex: str = ""
    sort: int = 0
    refresh: int = 1
    source: str = PROMETHEUS  # the data source type it asks
    auto: bool = False
    auto_count: int = 30
    auto_min: str = "10s"
    filters: int = 0  # adhoc filters saved

    @property
    def depends_on(self) -> set[str]:
        return references(self.query) | references(self.regex) | references(self.all_value or "")


@dataclass(frozen=True)
class Resolution:
    values: dict[str, Value]
    notes: tuple[str, ...] = ()


def order(variables: Sequence[Variable]) -> list[Variable]:
    """Dependencies first, else the dashboard's order; a cycle is a one-line UsageError."""
    by_name = {v.name: v for v in variables}
    done: dict[str, Variable] = {}
    visiting: list[str] = []

    def visit(variable: Variable) -> None:
        if variable.name in done:
            return
        if variable.name in visiting:
            cycle = [*visiting[visiting.index(variable.name) :], variable.name]
            raise UsageError(f"dashboard variables refer to each other in a cycle: {' -> '.join(cycle)}")
        visiting.append(variable.name)
        for name in sorted(variable.depends_on - {variable.name}):
            if name in by_name:
                visit(by_name[name])
        visiting.pop()
        done[variable.name] = variable

    for variable in variables:
        visit(variable)
    return list(done.values())


def resolve(
    variables: Sequence[Variable],
    given: Mapping[str, str],
    client: PromMetadata | None,
    start: datetime,
    end: datetime,
    builtins: Mapping[str, str],
) -> Resolution:
    values: dict[str, Value] = {}
    notes: list[str] = []
    down: str | None = None  # Prometheus unreachable: the other variables do not wait for it again
    for variable in order(variables):
        scope: dict[str, Value] = {**builtins, **values}
        if variable.name in given:
            if not (variable.include_all and given[variable.name] in (ALL, "All")):
                values[variable.name] = _given(variable, given[variable.name])
                continue
            variable = replace(variable, current=(ALL,))  # --var x=All: every option, as Grafana's All
        if down is not None and variable.type == "query" and variable.source == PROMETHEUS:
            notes.append(f"variable {variable.name}: not asked (Prometheus unreachable); its saved value kept")
        try:
            values[variable.name] = _value(variable, client if down is None else None, start, end, scope, notes)
        except DitsopsError as error:
            first = (error.message.splitlines() or ["failed"])[0]
            notes.append(f"variable {variable.name}: {first}; left empty")
            values[variable.name] = _empty(variable)
            down = first if error.exit_code == 4 else down
        if variable.type == "interval" and variable.auto:  # Grafana's $__auto_interval_<name>
            values[f"__auto_interval_{variable.name}"] = _interval(replace(variable, current=("auto",)), end - start)
    return Resolution(values, tuple(notes))


def _empty(variable: Variable) -> Value:
    return VarValue(("",), multi=variable.multi or variable.include_all) if _multi(variable) else ""


def _multi(variable: Variable) -> bool:
    return variable.multi or variable.include_all


def _given(variable: Variable, text: str) -> Value:
    """--var as given (`All` of an include-all variable is resolved as the saved choice All)."""
    return VarValue((text,), multi=True) if _multi(variable) else text


def _all(variable: Variable, options: Sequence[str], scope: Mapping[str, Value]) -> VarValue:
    if variable.all_value is not None:
        shown = _plain_all(variable.all_value, scope)
        return VarValue(tuple(options), multi=True, all_value=shown, text="All")
    return VarValue(tuple(options) or ("",), multi=True, text="All")


def _plain_all(text: str, scope: Mapping[str, Value]) -> str:
    try:
        return substitute(text, scope) if references(text) else text
    except DitsopsError:
        return text


def _value(
    variable: Variable,
    client: PromMetadata | None,
    start: datetime,
    end: datetime,
    scope: Mapping[str, Value],
    notes: list[str],
) -> Value:
    kind = variable.type
    if kind == "constant":
        return variable.query
    if kind == "textbox":
        return variable.current[0] if variable.current else variable.query
    if kind == "datasource":
        return "Prometheus" if variable.query in ("", PROMETHEUS) else variable.query
    if kind == "adhoc":
        if variable.filters:
            notes.append(f"variable {variable.name}: ad hoc filters are not applied to the queries")
        return ""
    if kind == "interval":
        return _interval(variable, end - start)
    if kind == "custom":
        options = custom_options(variable.query)
    elif kind == "query":
        if variable.source != PROMETHEUS:
            notes.append(f"variable {variable.name}: {not_configured(variable.source)}; left empty")
            return _empty(variable)
        if client is None or (variable.refresh == 0 and variable.options):
            saved = [(c, c) for c in variable.current if c != ALL]
            options = [(t, v) for t, v in variable.options if v != ALL] or saved
        else:
            found = query_options(variable, client, start, end, scope)
            # Grafana fills the regex's own variables first, regex-escaped (templateSrv 'regex')
            regex = plain(variable.regex, scope, "regex") if references(variable.regex) else variable.regex
            options = sort_options(apply_regex(regex, found), variable.sort)
    else:
        return variable.current[0] if variable.current else variable.query
    if len(options) > MAX_OPTIONS:
        notes.append(f"variable {variable.name}: {len(options)} values, the first {MAX_OPTIONS} kept")
        options = options[:MAX_OPTIONS]
    return _select(variable, options, scope, notes)


def _select(variable: Variable, options: list[tuple[str, str]], scope: Mapping[str, Value], notes: list[str]) -> Value:
    values = [v for _, v in options]
    if not values:
        notes.append(f"variable {variable.name}: its query found no values; left empty")
        return _empty(variable)
    current = list(variable.current)
    if variable.include_all and (ALL in current or not set(current) & set(values)):
        # the saved choice is All, or gone: Grafana falls back to the first option, All
        return _all(variable, values, scope)
    kept = tuple(c for c in current if c in values) or (values[0],)
    if not variable.multi:
        kept = kept[:1]
    return VarValue(kept, multi=True) if _multi(variable) else kept[0]


def custom_options(query: str) -> list[tuple[str, str]]:
    """Grafana's custom variable: comma-separated (`\\,` escapes a comma), `text : value` pairs."""
    found = []
    for part in re.findall(r"(?:\\,|[^,])+", query):
        item = part.strip().replace("\\,", ",")
        if not item:
            continue
        text, sep, value = item.partition(" : ")
        found.append((text.strip(), value.strip()) if sep else (item, item))
    return found


def _interval(variable: Variable, window: timedelta) -> str:
    options = [v for _, v in custom_options(variable.query)]
    chosen = variable.current[0] if variable.current else (options[0] if options else "")
    if chosen == "auto" or chosen.startswith("$__auto_interval") or (not chosen and variable.auto):
        try:
            floor = parse_duration(variable.auto_min or "10s").total_seconds()
        except ValueError:
            floor = 10.0
        raw = window.total_seconds() / max(variable.auto_count or 30, 1)
        seconds = max(floor, next((s for s in _ROUND if s >= raw), raw))
        return to_prometheus(timedelta(seconds=int(seconds)))
    return chosen


def query_options(
    variable: Variable, client: PromMetadata, start: datetime, end: datetime, scope: Mapping[str, Value]
) -> list[tuple[str, str]]:
    query = variable.query.strip()
    if not query:
        return []
    labels = _LABEL_VALUES.match(query)
    if labels:
        selector = substitute(labels.group(1), scope) if labels.group(1) else None
        label = labels.group(2)
        return _pairs(client.label_values(label, selector, start, end))
    names = _LABEL_NAMES.match(query)
    if names:
        selector = substitute(names.group(1), scope) if names.group(1) else None
        return _pairs(client.label_names(selector, start, end))
    metrics = _METRICS.match(query)
    if metrics:
        pattern = _compile(substitute(metrics.group(1).strip(), scope), "metrics()")
        return _pairs([m for m in client.label_values("__name__", None, start, end) if pattern.search(m)])
    expr = _QUERY_RESULT.match(query)
    if not expr:
        # Grafana runs anything else as query_result(...) too (a bare PromQL expression)
        expr_text = query
    else:
        expr_text = expr.group(1)
    result = client.query(substitute(expr_text, scope), end)
    return _pairs(_sample_texts(result, int(end.timestamp() * 1000)))


def _sample_texts(result: object, stamp: int) -> list[str]:
    """Each sample as Grafana's query_result shows it: `name{a="b",c="d"} value timestamp_ms`."""
    texts = []
    for item in cast(list[object], getattr(result, "series", [])):
        labels = cast(Mapping[str, str], getattr(item, "labels", {}))
        value = getattr(item, "value", None)
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
        texts.append(f"{labels.get('__name__', '')}{{{inner}}} {_number(value)} {stamp}")
    scalar = getattr(result, "scalar", None)
    if getattr(result, "result_type", "") == "scalar" and scalar is not None:
        texts.append(f"scalar {_number(scalar)} {stamp}")
    return texts


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    """A JavaScript regex (`/…/flags` or bare) as Python's, or a one-line error."""
    if len(pattern) > MAX_REGEX:
        raise UsageError(f"{what}: regex longer than {MAX_REGEX} characters")
    flags = 0
    literal = re.match(r"^/(.*)/([gimsuy]*)$", pattern, re.S)
    if literal:
        pattern = literal.group(1)
        flags = (re.I if "i" in literal.group(2) else 0) | (re.M if "m" in literal.group(2) else 0)
        flags |= re.S if "s" in literal.group(2) else 0
    pattern = re.sub(r"\(\?<(?![=!])", "(?P<", pattern)  # JS named groups
    try:
        with warnings.catch_warnings():  # a JS regex Python reads differently warns on stderr: not the user's concern
            warnings.simplefilter("ignore")
            return re.compile(pattern, flags)
    except (re.error, RecursionError, OverflowError) as error:
        raise UsageError(f"{what}: not a regex Grafana and ditsops both read: {error}") from None


def apply_regex(regex: str, options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Grafana's variable regex (metricNamesToVariableValues): keep matching options and take
    the named groups text/value, else the first capture; with the `g` flag each match's
    capture is an option of its own."""
    if not regex.strip():
        return _unique(options)
    pattern = _compile(regex.strip(), "variable regex")
    every = bool(re.match(r"^/.*/[a-z]*g[a-z]*$", regex.strip(), re.S))
    found: list[tuple[str, str]] = []
    # Python's regex engine backtracks: a hostile pattern on long values could spin for ever,
    # so it sees at most MAX_SCANNED values of at most MAX_VALUE characters.
    for text, value in ((t[:MAX_VALUE], v[:MAX_VALUE]) for t, v in options[:MAX_SCANNED]):
        matches = list(pattern.finditer(value))[:MAX_OPTIONS] if every else [m for m in [pattern.search(value)] if m]
        if not matches:
            continue
        groups = next((m.groupdict() for m in matches if m.groupdict().get("value") or m.groupdict().get("text")), {})
        captured = [m for m in matches if m.groups()]
        if groups:
            value = groups.get("value") or groups.get("text") or ""
            text = groups.get("text") or value
        elif len(matches) > 1 and captured:
            found.extend((m.group(1) or "", m.group(1) or "") for m in matches if m.groups())
            continue
        elif captured:
            text = value = captured[0].group(1) or ""
        found.append((text, value))
    return _unique(found)


def _unique(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for text, value in options:
        if value not in seen:
            seen.add(value)
            out.append((text, value))
    return out


def sort_options(options: list[tuple[str, str]], sort: int) -> list[tuple[str, str]]:
    """Grafana's sort: 1/2 alphabetical, 3/4 numerical (first number in the text), 5/6
    alphabetical case-insensitive, 7/8 natural; even numbers descending; 0 as found."""
    if sort <= 0:
        return options
    kind, descending = (sort + 1) // 2, sort % 2 == 0
    if kind == 1:
        ordered = sorted(options, key=lambda o: o[0])
    elif kind == 2:
        ordered = sorted(options, key=lambda o: _first_number(o[0]))
    elif kind == 3:
        ordered = sorted(options, key=lambda o: o[0].lower())
    else:
        ordered = sorted(options, key=lambda o: _natural(o[0]))
    return list(reversed(ordered)) if descending else ordered


def _first_number(text: str) -> int:
    found = re.match(r".*?(\d+)", text)
    return int(found.group(1)[:30]) if found else -1


def _natural(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(p[:30])) if p.isdigit() else (1, p.lower()) for p in re.findall(r"\d+|\D+", text)]
