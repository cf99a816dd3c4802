"""Runbook YAML -> Runbook, reporting every problem as `file:line: what was expected`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ditsops.base.durations import parse_duration
from ditsops.base.errors import RunbookError
from ditsops.base.units import unit_problem
from ditsops.core import steps as step_kinds
from ditsops.core.conditions import parse_conditions
from ditsops.core.guards import parse_guards
from ditsops.core.model import Condition, Escalation, Runbook, Step, Threshold
from ditsops.core.params import TYPES, ParamSpec, convert
from ditsops.core.safefile import FileProblem, read_text
from ditsops.core.steps.base import FieldReader
from ditsops.core.template import malformed, references_in
from ditsops.core.yamllines import LineDict, YamlSyntaxError, load_yaml

TOP_KEYS = ("name", "title", "alert", "severity", "summary", "params", "escalation", "steps", "description")
STEP_KEYS = ("id", "title", "why", "when", "threshold", "unit", "unless_firing")
PARAM_KEYS = ("type", "default", "description", "min", "max", "choices", "required")
SEVERITIES = ("critical", "warning", "info")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*\Z")


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.items.append(f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}")


def load_runbook(path: Path) -> Runbook:
    """Load a runbook file: a regular file of at most 1 MiB (see core/safefile.py).

    When the file is not the engineer's to read, or was reached through a symlink out of
    its directory, its problems are one line that quotes nothing from the file, not even
    its line numbers (one line per line of /etc/shadow would tell how many users it has).
    """
    try:
        found = read_text(path)
    except FileProblem as error:
        raise RunbookError([f"{path}: {error}"]) from None
    try:
        return parse_runbook(found.text, path)
    except RunbookError as error:
        if not found.withheld:
            raise
        raise RunbookError(_withheld(error.problems, path, found.withheld)) from None


def _withheld(problems: list[str], path: Path, why: str) -> list[str]:
    return [f"{path}: not a valid runbook (details withheld: {why})"]


def parse_runbook(text: str, path: Path) -> Runbook:
    problems = _Problems(str(path))
    try:
        doc = load_yaml(text)
    except YamlSyntaxError as error:
        raise RunbookError([f"{path}:{error.line}: {error}" if error.line else f"{path}: {error}"]) from None
    if not isinstance(doc, LineDict):
        raise RunbookError([f"{path}:1: expected a mapping with name, title and steps"])
    _check_keys(doc, TOP_KEYS, problems, "runbook")

    name = _string(doc, "name", problems, required=True)
    if name and not _ID.match(name):
        problems.add(doc.line_of("name"), f"name {name!r} must be lower-case letters, digits and '-'")
    elif name and name != path.stem and path.suffix in (".yaml", ".yml"):
        problems.add(doc.line_of("name"), f"name {name!r} must match the file name {path.stem!r}")
    title = _string(doc, "title", problems, required=True)
    severity = _string(doc, "severity", problems)
    if severity and severity not in SEVERITIES:
        problems.add(doc.line_of("severity"), f"severity must be one of {', '.join(SEVERITIES)}")

    params = _params(doc, problems)
    escalation = _escalation(doc, problems)
    steps = _steps(doc, problems, {p.name: p for p in params})

    if problems.items:
        raise RunbookError(problems.items)
    return Runbook(
        name=name or path.stem,
        title=title or "",
        steps=tuple(steps),
        params=tuple(params),
        escalation=tuple(escalation),
        alert=_string(doc, "alert", problems),
        severity=severity,
        summary=_string(doc, "summary", problems) or "",
        source=path,
    )


def _check_keys(mapping: LineDict, allowed: Iterable[str], problems: _Problems, what: str) -> None:
    for key, line in mapping.duplicates:
        problems.add(line, f"duplicate key '{key}' in {what}")
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            problems.add(mapping.line_of(key), f"unknown key '{key}' in {what} (expected one of: {', '.join(allowed)})")


def _string(mapping: LineDict, key: str, problems: _Problems, *, required: bool = False) -> str | None:
    if key not in mapping:
        if required:
            problems.add(mapping.line, f"missing required key '{key}'")
        return None
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        problems.add(mapping.line_of(key), f"'{key}' must be non-empty text")
        return None
    return value.strip()


def _params(doc: LineDict, problems: _Problems) -> list[ParamSpec]:
    if doc.get("params") is None:
        return []
    raw = doc["params"]
    if not isinstance(raw, LineDict):
        problems.add(doc.line_of("params"), "'params' must be a mapping of name -> {type, default}")
        return []
    _check_keys(raw, raw.keys(), problems, "params")
    specs = []
    for name, body in raw.items():
        line = raw.line_of(name)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\Z", name):
            problems.add(line, f"parameter name {name!r} must be an identifier (letters, digits, _)")
            continue
        if not isinstance(body, LineDict):
            problems.add(line, f"parameter '{name}' must be a mapping like {{type: duration, default: 5m}}")
            continue
        _check_keys(body, PARAM_KEYS, problems, f"parameter '{name}'")
        kind = body.get("type", "string")
        if kind not in TYPES:
            problems.add(body.line_of("type"), f"parameter '{name}': type must be one of {', '.join(TYPES)}")
            continue
        choices = body.get("choices") or []
        if kind == "choice" and (not isinstance(choices, list) or not choices):
            problems.add(body.line, f"parameter '{name}': a choice needs a non-empty 'choices' list")
            continue
        spec = ParamSpec(
            name=name,
            type=kind,
            description=str(body.get("description", "")),
            minimum=_bound(body, "min", kind, problems),
            maximum=_bound(body, "max", kind, problems),
            choices=tuple(str(c) for c in choices),
            required=bool(body.get("required", False)),
        )
        if "default" in body and body["default"] is not None:
            try:
                spec = replace(spec, default=convert(spec, body["default"]))
            except ValueError as error:
                problems.add(body.line_of("default"), f"parameter '{name}': default {error}")
        elif not spec.required:
            problems.add(body.line, f"parameter '{name}' needs a default or 'required: true'")
        specs.append(spec)
    return specs


def _bound(body: LineDict, key: str, kind: str, problems: _Problems) -> float | None:
    if key not in body:
        return None
    value = body[key]
    try:
        if kind == "duration":
            return parse_duration(str(value)).total_seconds()
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except ValueError:
        problems.add(body.line_of(key), f"'{key}' must be a {'duration' if kind == 'duration' else 'number'}")
        return None


def _escalation(doc: LineDict, problems: _Problems) -> list[Escalation]:
    raw = doc.get("escalation") or []
    if not isinstance(raw, list):
        problems.add(doc.line_of("escalation"), "'escalation' must be a list of {after, say}")
        return []
    reminders = []
    for item in raw:
        if not isinstance(item, LineDict) or "after" not in item or "say" not in item:
            problems.add(getattr(item, "line", doc.line_of("escalation")), "escalation entries need 'after' and 'say'")
            continue
        _check_keys(item, ("after", "say"), problems, "escalation")
        try:
            after = parse_duration(str(item["after"]))
        except ValueError as error:
            problems.add(item.line_of("after"), f"escalation 'after': {error}")
            continue
        reminders.append(Escalation(after=after, say=str(item["say"])))
    return sorted(reminders, key=lambda r: r.after)


def _steps(doc: LineDict, problems: _Problems, param_specs: dict[str, ParamSpec]) -> list[Step]:
    raw = doc.get("steps")
    if not isinstance(raw, list) or not raw:
        problems.add(doc.line_of("steps"), "'steps' must be a non-empty list")
        return []
    kinds = step_kinds.all_kinds()
    selectors = step_kinds.selector_keys()
    seen: dict[str, int] = {}
    result = []
    for item in raw:
        if not isinstance(item, LineDict):
            problems.add(
                doc.line_of("steps"),
                "each step must be a mapping with id, title and one of: " + ", ".join(sorted(selectors)),
            )
            continue
        step = _step(item, problems, kinds, selectors, param_specs, seen)
        if step:
            result.append(step)
    return result


def _step(
    item: LineDict,
    problems: _Problems,
    kinds: dict[str, step_kinds.AnyKind],
    selectors: set[str],
    param_specs: dict[str, ParamSpec],
    seen: dict[str, int],
) -> Step | None:
    step_id = _string(item, "id", problems, required=True)
    if step_id and not _ID.match(step_id):
        problems.add(item.line_of("id"), f"step id {step_id!r} must be lower-case letters, digits and '-'")
    if step_id in seen:
        problems.add(item.line_of("id"), f"step id '{step_id}' is used twice (first at line {seen[step_id]})")
    where = f"step '{step_id or '?'}'"
    title = _string(item, "title", problems, required=True)

    chosen = [key for key in item if key in selectors]
    if len(chosen) != 1:
        found = f"found {', '.join(chosen)}" if chosen else "found none"
        problems.add(item.line, f"{where}: needs exactly one of {', '.join(sorted(selectors))} ({found})")
        return None
    selector = chosen[0]
    value = item[selector]
    kind = kinds.get(selector) or (kinds.get(f"{selector}:{value}") if isinstance(value, str) else None)
    if kind is None:
        names = sorted(k.split(":", 1)[1] for k in kinds if k.startswith(selector + ":"))
        problems.add(
            item.line_of(selector), f"{where}: unknown {selector} {value!r} (expected one of: {', '.join(names)})"
        )
        return None

    _check_keys(item, STEP_KEYS + (selector,) + kind.fields, problems, where)

    def problem(key: str, message: str, line: int | None) -> None:
        problems.add(line or item.line_of(key), f"{where}: {message}")

    reader = FieldReader(item, problem, item.key_lines)
    spec = kind.parse(value, reader)

    used = kind.references(spec) if spec is not None else set()
    for name in sorted((used | references_in(item.get("title", ""))) - set(param_specs)):
        problems.add(
            item.line_of(selector), f"{where}: uses {{{{ {name} }}}} but the runbook has no parameter '{name}'"
        )
    if spec is not None:
        for key, message in kind.check_params(spec, param_specs):
            problems.add(item.line_of(key), f"{where}: {message}")
    for key in (selector, *kind.fields):
        text = item.get(key)
        if isinstance(text, str) and malformed(text):
            problems.add(item.line_of(key), f"{where}: malformed placeholder in '{key}' (expected {{{{ name }}}})")

    when: tuple[Condition, ...] = ()
    if "when" in item:
        try:
            when = parse_conditions(item["when"])
        except ValueError as error:
            problems.add(item.line_of("when"), f"{where}: {error}")
    for ref in {c.step for c in when} | (kind.step_references(spec) if spec is not None else set()):
        if ref not in seen:
            problems.add(
                item.line_of("when" if "when" in item else selector),
                f"{where}: refers to step '{ref}', which is not an earlier step",
            )

    threshold = _threshold(item, problems, where, kind.thresholds)
    unit = item.get("unit")
    unit_wrong = unit_problem(str(unit)) if unit is not None else None
    if unit_wrong:
        problems.add(item.line_of("unit"), f"{where}: {unit_wrong}")
    guards = parse_guards(item.get("unless_firing", []), lambda message: problem("unless_firing", message, None))
    if step_id:
        seen[step_id] = item.line
    return Step(
        id=step_id or "?",
        title=title or "",
        kind=kind.registry_key,
        spec=spec,
        why=str(item.get("why", "")).strip(),
        when=when,
        threshold=threshold,
        unit=unit,
        line=item.line,
        unless_firing=guards,
    )


def _threshold(item: LineDict, problems: _Problems, where: str, allowed: bool) -> Threshold | None:
    raw = item.get("threshold")
    if raw is None:
        return None
    line = item.line_of("threshold")
    if not allowed:
        problems.add(line, f"{where}: this kind of step has no value to compare with a threshold")
        return None
    if not isinstance(raw, LineDict):
        problems.add(line, f"{where}: threshold must be a mapping like {{warn: 80, fail: 90}}")
        return None
    _check_keys(raw, ("warn", "fail", "direction"), problems, f"{where} threshold")
    bounds: dict[str, float | None] = {}
    for key in ("warn", "fail"):
        value: Any = raw.get(key)
        if isinstance(value, str):  # YAML reads 100e9 (no dot) as text; Prometheus authors write it so
            try:
                value = float(value)
            except ValueError:
                pass
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.add(raw.line_of(key), f"{where}: threshold '{key}' must be a number")
            value = None
        bounds[key] = float(value) if value is not None else None
    direction = raw.get("direction", "above")
    if direction not in ("above", "below"):
        problems.add(raw.line_of("direction"), f"{where}: threshold direction must be 'above' or 'below'")
    if bounds["warn"] is None and bounds["fail"] is None:
        problems.add(line, f"{where}: threshold needs 'warn', 'fail' or both")
    warn, fail = bounds["warn"], bounds["fail"]
    if warn is not None and fail is not None and ((warn > fail) if direction == "above" else (warn < fail)):
        problems.add(line, f"{where}: warn must come before fail in the threshold's direction ({direction})")
    return Threshold(warn=warn, fail=fail, direction=direction)


def resolve_params(
    runbook: Runbook,
    given: dict[str, str],
    *,
    labels: dict[str, str] | None = None,
    profile: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Typed values for every parameter, validated: --set > alert labels > profile params > default.

    Labels and profile params fill only parameters the runbook has, by the same name.
    """
    from ditsops.base.errors import UsageError

    unknown = set(given) - {p.name for p in runbook.params}
    if unknown:
        known = ", ".join(p.name for p in runbook.params) or "none"
        raise UsageError(f"{runbook.name} has no parameter {', '.join(sorted(unknown))} (parameters: {known})")
    values: dict[str, Any] = {}
    for spec in runbook.params:
        for origin, source in (("--set", given), ("alert label", labels or {}), ("profile params", profile or {})):
            if spec.name in source:
                try:
                    values[spec.name] = convert(spec, source[spec.name])
                except ValueError as error:
                    if origin == "alert label":
                        continue  # a label that does not fit the type is not this parameter's value
                    raise UsageError(f"{origin} {spec.name}: {error}") from None
                break
        if spec.name in values:
            continue
        if spec.required and spec.default is None:
            raise UsageError(f"{runbook.name} needs --set {spec.name}=<{spec.type}>")
        values[spec.name] = spec.default
    refuse_widening(runbook, values)
    return values


def refuse_widening(runbook: Runbook, values: dict[str, Any]) -> None:
    """A filter, selector or matcher whose placeholder renders empty would select more than
    its author meant (every pod, every backend of the database): refuse the run (exit 2)."""
    from ditsops.base.errors import UsageError
    from ditsops.core.params import display

    kinds = step_kinds.all_kinds()
    for step in runbook.steps:
        kind = kinds.get(step.kind)
        if kind is None or step.spec is None:
            continue
        for field_name, template in kind.selection_templates(step.spec).items():
            for name in sorted(references_in(template)):
                if name in values and (values[name] is None or not display(values[name]).strip()):
                    raise UsageError(
                        f"step '{step.id}': {field_name} renders empty ({name} is empty); refusing to run it "
                        "with a wider selection than written",
                        hint=f"--set {name}=<value>",
                    )
