"""The shipped Dits alert rules, rewritten for the practice sandbox.

The production rules wait minutes (`for: 15m`, `rate(...[5m])`, a one-day baseline) so
that a page means something. A practice incident has to show up while the engineer
watches, so the sandbox loads the same rules with every wait shrunk: same alert names,
labels, annotations and thresholds, shorter clocks. Nothing here is meant for a real
Prometheus.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ditsops.base.errors import DitsopsError

RULES_FILE_NAME = "dits.rules.yml"

SANDBOX_HEADER = """\
# GENERATED for the ditsops practice sandbox only -- do not deploy.
# These are the shipped Dits alert rules ({source}) with their clocks shortened so a
# sandbox fault fires its alert within about a minute: every non-zero `for` is {for_}
# (0 stays 0), range windows are [{window}], and the day-long baseline subquery is
# [{sub_range}:{sub_step}]. Names, labels, annotations and thresholds are unchanged.
"""

# The sandbox's clock: Prometheus scrapes and evaluates every second, so a 10 s range
# holds ten samples (a steady rate from deterministic counters) and a fault's alert fires,
# and a fix shows, within seconds; `for` is shortened to a few evaluations.
SANDBOX_WINDOW = "10s"
SANDBOX_FOR_SECONDS = 3

_DURATION = r"\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*"
# A range selector `[5m]` or a subquery `[1d:5m]` / `[1d:]`; matched outside string literals only.
_RANGE = re.compile(rf"\[\s*({_DURATION})\s*(?::\s*({_DURATION})?\s*)?\]")
# PromQL string literals: "..." and '...' with backslash escapes, and `...` raw strings.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def shipped_rules_path() -> Path:
    """runbooks/alerts/dits.rules.yml in a source checkout, or its copy inside the wheel."""
    package_root = Path(__file__).resolve().parents[1]  # .../ditsops
    for candidate in (
        package_root / "runbooks" / "alerts" / RULES_FILE_NAME,  # wheel: force-included
        package_root.parent / "runbooks" / "alerts" / RULES_FILE_NAME,  # source tree
    ):
        if candidate.is_file():
            return candidate
    raise DitsopsError(f"the Dits alert rules ({RULES_FILE_NAME}) are not installed with ditsops")


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as `1h30m` or `0`."""
    text = str(text).strip()
    if text == "0":
        return 0.0
    parts = re.findall(r"(\d+)(ms|[smhdwy])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DitsopsError(f"not a Prometheus duration: {text!r}")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def shorten_ranges(
    expr: str, window: str = SANDBOX_WINDOW, subquery_range: str = "15m", subquery_step: str = "5s"
) -> str:
    """Replace every range selector with [window] and every subquery with [range:step].

    String literals are left alone so that a label regex such as `path=~"/v[12]/.*"` is
    never mistaken for a range.
    """
    pieces: list[str] = []
    last = 0
    for literal in _STRING.finditer(expr):
        pieces.append(_shorten_code(expr[last : literal.start()], window, subquery_range, subquery_step))
        pieces.append(literal.group(0))
        last = literal.end()
    pieces.append(_shorten_code(expr[last:], window, subquery_range, subquery_step))
    return "".join(pieces)


def _shorten_code(code: str, window: str, subquery_range: str, subquery_step: str) -> str:
    def replace(match: re.Match[str]) -> str:
        is_subquery = ":" in match.group(0)
        return f"[{subquery_range}:{subquery_step}]" if is_subquery else f"[{window}]"

    return _RANGE.sub(replace, code)


def sandbox_rules(
    text: str,
    for_seconds: int = SANDBOX_FOR_SECONDS,
    *,
    window: str = SANDBOX_WINDOW,
    subquery_range: str = "15m",
    subquery_step: str = "5s",
    source: str = RULES_FILE_NAME,
) -> str:
    """The rules file `text` rewritten for the sandbox (see the module docstring).

    The window holds ten samples at the sandbox's 1 s scrape interval, enough for the
    simulator's steady rates; the 15 m baseline at 5 s steps keeps UnusualTrafficSpike's "more
    than 12 points of history" guard at about one minute.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DitsopsError(f"alert rules are not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise DitsopsError("alert rules must be a mapping with a 'groups' list")

    for group in document["groups"]:
        for rule in group.get("rules") or []:
            if "expr" in rule:
                rule["expr"] = shorten_ranges(str(rule["expr"]), window, subquery_range, subquery_step)
            if "for" in rule and duration_seconds(rule["for"]) > 0:
                rule["for"] = f"{for_seconds}s"

    header = SANDBOX_HEADER.format(
        source=source, for_=f"{for_seconds}s", window=window, sub_range=subquery_range, sub_step=subquery_step
    )
    return header + "\n" + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the PromQL expressions) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)
