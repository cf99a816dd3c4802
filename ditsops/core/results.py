"""Typed results of steps and commands; renderers turn these into tables, JSON or Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A step's status; a str, so records, JSON and tables show exactly these words."""

    OK = "ok"
    WARNING = "warning"
    FAILING = "failing"
    INFO = "info"  # a diagnostic without a threshold
    ERROR = "error"
    SKIPPED = "skipped"
    APPLIED = "applied"
    DECLINED = "declined"  # the engineer answered no
    REFUSED = "refused"  # no terminal / --non-interactive without --yes
    PREVIEWED = "previewed"  # --dry-run: shown, not applied
    NOTHING_TO_DO = "nothing-to-do"
    DONE = "done"  # a manual step the engineer ticked off
    PENDING = "pending"  # a manual step nobody ticked off


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    title: str | None = None
    total: int | None = None  # rows that existed before a top-N cut, when larger than len(rows)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass
class TreeNode:
    label: str
    children: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True)
class LogGroup:
    """Log lines that say the same thing once their varying parts (times, ids, numbers)
    are masked: the message as a template, how often, when and where it was seen."""

    message: str  # parts that differ between the lines masked: <n>, <hex>, <uuid>, <ip>, <time>
    count: int
    first_seen: datetime | None  # from the lines' own timestamps, when they carry one
    last_seen: datetime | None
    pods: tuple[str, ...]
    example: str  # the newest line itself, unmasked


@dataclass
class StepResult:
    status: Status
    summary: str = ""
    value: float | None = None
    tables: list[Table] = field(default_factory=list)
    trees: list[TreeNode] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: Any = None  # JSON-ready details for --output json and the run record
    panel: Any = None  # a dashboard panel's data (core/dashquery.DashboardData) the walk draws
    unreachable: bool = False  # the error was a target that could not be reached
    not_configured: bool = False  # skipped: this run has no settings for the step's target
    unit: str | None = None  # the value's own unit (an age in seconds), when the runbook names none
    log_groups: list[LogGroup] = field(default_factory=list)  # a log step's lines, grouped by message

    @classmethod
    def failed(cls, message: str, *, unreachable: bool = False) -> StepResult:
        return cls(status=Status.ERROR, summary=message, unreachable=unreachable)


@dataclass
class Preview:
    """What a destructive step would do, shown before asking; apply acts on exactly this."""

    target: str  # what an engineer types to confirm on a production profile
    summary: str  # one line: "terminate 12 backends on dits@db-1:5432"
    table: Table | None = None
    command: str | None = None  # the equivalent command a person would type
    items: Any = None  # what apply must act on, exactly as previewed
    empty: bool = False  # nothing matches: nothing to confirm
    data: Any = None
    headline: str | None = None  # the summary less what its table shows (the compact walk)
