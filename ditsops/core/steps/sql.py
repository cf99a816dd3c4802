"""`sql:` — a read-only SQL diagnostic: a named query from ditsops/sql or inline SQL.

    - id: connections
      sql: |
        SELECT state, count(*) AS connections FROM pg_stat_activity GROUP BY state
      value: sum(connections)          # what thresholds compare: COLUMN (first row),
      threshold: {warn: 40, fail: 45}  # sum(C), max(C), min(C), or rows (row count)

Parameters reach the query only as bound parameters: `{{ older_than }}` becomes
`%(older_than)s`, and a duration arrives as an interval.

A diagnostic cannot change anything, by privilege: inline SQL (whoever wrote the
runbook) runs only on the diagnostics role (diagnostics_dsn, checked on connect to hold
no privilege that signals, reads or writes server files or runs programs), and is
refused with how to set that up when only a privileged DSN is configured. A name reaches
only the read-only diagnostics shipped in ditsops/sql, never the SQL of an action; they
run on the diagnostics role too when one is configured, else on the operator's session.
The lexical check (ditsops.base.sqlguard: one SELECT, WITH, VALUES, SHOW, TABLE or
EXPLAIN statement without functions that have side effects) is lint's early warning,
with the file and line of the offending call, and is checked again before sending.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ditsops import sql as named_sql
from ditsops.base.sqlguard import check as check_diagnostic
from ditsops.base.units import Quantity, column_unit
from ditsops.core.model import Step
from ditsops.core.results import Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import FieldReader, RunContext, StepKind
from ditsops.core.template import (
    references,
    references_in,
    render_text,
    resolve,
    shown_sql,
    sql_placeholder_problems,
    to_bound_sql,
)

if TYPE_CHECKING:
    from ditsops.clients.postgres import PostgresClient

_NAMED = re.compile(r"^[a-z_][a-z0-9_]*\Z")
_VALUE = re.compile(r"^(?:(sum|max|min)\((\w+)\)|(rows)|(\w+))\Z")
_PSYCOPG_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class SqlSpec:
    query: str  # the text shown to the engineer, placeholders and all
    bound: str  # what is sent, with bound parameters
    names: tuple[str, ...]  # placeholder names, in order
    args: dict[str, Any]  # for named queries: values (possibly templated) of their parameters
    named: str | None
    value: str | None
    limit: int
    columns: tuple[str, ...] = ()  # which result columns to show; all when empty


def database(ctx: RunContext) -> PostgresClient:
    """The run's session on the operator's DSN (actions and their previews); a connection
    lost in an earlier step is opened anew."""
    from ditsops.core import connect

    return _kept(ctx, "postgres", lambda: connect.postgres(ctx.settings))


def diagnostics_database(ctx: RunContext) -> PostgresClient:
    """The run's session for SQL that did not ship with ditsops (see connect.diagnostics)."""
    from ditsops.core import connect

    return _kept(ctx, "diagnostics", lambda: connect.diagnostics(ctx.settings))


def _kept(ctx: RunContext, key: str, factory: Callable[[], PostgresClient]) -> PostgresClient:
    client = ctx.client(key, factory)
    if client.broken:
        ctx.forget(key)
        client = ctx.client(key, factory)
    return client


@register
class SqlKind(StepKind[SqlSpec]):
    spec_type = SqlSpec
    prefetch = True
    key = "sql"
    fields = ("args", "value", "limit", "columns")
    thresholds = True
    target = "database"

    def parse(self, value: Any, reader: FieldReader) -> SqlSpec | None:
        if not isinstance(value, str) or not value.strip():
            reader.problem("sql", "'sql' must be a query or the name of a diagnostic in ditsops/sql")
            return None
        args = reader.get("args", dict, default={})
        text = value.strip()
        named = None
        if _NAMED.match(text):
            try:
                bound = named_sql.load(text)
            except KeyError:
                reader.problem("sql", f"no SQL diagnostic named {text!r} (known: {', '.join(named_sql.names())})")
                return None
            named, names = text, tuple(_PSYCOPG_PARAM.findall(bound))
            for name in set(args) - set(names):
                reader.problem(
                    "args",
                    f"diagnostic {text!r} takes no argument '{name}' "
                    f"(takes: {', '.join(sorted(set(names))) or 'none'})",
                )
        else:
            if args:
                reader.problem("args", "'args' is only for named diagnostics; inline SQL uses {{ param }} directly")
            bound, bound_names = to_bound_sql(text)
            names = tuple(bound_names)
        for violation in check_diagnostic(bound):
            where = f"ditsops/sql/{named}.sql line {violation.line}" if named else None
            reader.problem(
                "sql",
                f"not a read-only diagnostic: {violation.message}" + (f" ({where})" if where else ""),
                line=None if named else _yaml_line(value, reader.line_of("sql"), violation.line),
            )
        measure = reader.get("value", str)
        if measure is not None and not _VALUE.match(measure.strip()):
            reader.problem(
                "value", f"'value' must be COLUMN, sum(COLUMN), max(COLUMN), min(COLUMN) or rows, got {measure!r}"
            )
        limit = reader.get("limit", int, default=20)
        columns = reader.get("columns", list, default=[])
        return SqlSpec(
            text, bound, names, dict(args), named, measure.strip() if measure else None, limit, tuple(map(str, columns))
        )

    def references(self, spec: SqlSpec | None) -> set[str]:
        if spec is None:
            return set()
        return references_in(spec.args) if spec.named else references(spec.query)

    def check_params(self, spec: SqlSpec, params: dict[str, Any]) -> list[tuple[str, str]]:
        # A placeholder inside quotes or a comment would never be bound as a value.
        return [] if spec.named else [("sql", problem) for problem in sql_placeholder_problems(spec.query)]

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        spec = self.spec_of(step)
        if spec.named:
            shown = ", ".join(f"{k}={render_text(str(v), params)}" for k, v in spec.args.items())
            body = [line for line in named_sql.load(spec.named).strip().splitlines() if not line.startswith("--")]
            return f"-- ditsops/sql/{spec.named}.sql with {shown or 'no arguments'}\n" + "\n".join(body)
        # The text as sent, with the bound values listed beside it: never spliced into it.
        return shown_sql(spec.query, params)

    def brief(self, step: Step, params: dict[str, Any]) -> str | None:
        """A named diagnostic by its name and arguments: `long_queries (older_than=5m)`."""
        spec = self.spec_of(step)
        if not spec.named:
            return None
        shown = ", ".join(f"{k}={render_text(str(v), params)}" for k, v in spec.args.items())
        return f"{spec.named} ({shown})" if shown else spec.named

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        spec = self.spec_of(step)
        if spec.named:
            values: dict[str, Any] = {name: None for name in spec.names}
            values.update(resolve(spec.args, ctx.params))
            values.setdefault("limit", 1000)
            # Every diagnostic on the diagnostics role when there is one; shipped SQL may
            # otherwise run on the operator's session (whose search_path is the catalog's).
            session = diagnostics_database(ctx) if ctx.settings.diagnostics_dsn is not None else database(ctx)
            result = session.named(spec.named, values)
        else:
            values = {name: ctx.params[name] for name in spec.names}
            # Refused there unless the session's role can do no harm; guarded again before sending.
            result = diagnostics_database(ctx).diagnose(spec.bound, values)
        rows = [tuple(_plain(v) for v in row) for row in result.rows]
        value = measure(spec.value, result.columns, rows)
        warnings = [f"more than {len(rows)} rows: only the first {len(rows)} were read"] if result.more else []
        shown = [_with_units(result.columns, row) for row in rows[: spec.limit]]
        table = _select(Table(result.columns, shown, total=len(rows) if len(rows) > spec.limit else None), spec.columns)
        return StepResult(
            status=Status.INFO,
            summary=f"{len(rows)} row{'s' if len(rows) != 1 else ''}",
            value=value,
            tables=[table],
            warnings=warnings,
            data={
                "columns": list(result.columns),
                "rows": [list(r) for r in rows[: spec.limit]],
                "row_count": len(rows),
            },
        )


def _yaml_line(value: str, key_line: int | None, sql_line: int) -> int | None:
    """The file line of a line of the query: a block scalar (`sql: |`) starts on the line
    after its key and keeps its lines; a one-line or folded value is on the key's line."""
    if key_line is None:
        return None
    if "\n" not in value.strip() and not value.endswith("\n"):  # only block scalars keep a final newline
        return key_line
    leading = value[: len(value) - len(value.lstrip())].count("\n")
    return key_line + leading + sql_line


def _select(table: Table, columns: tuple[str, ...]) -> Table:
    """Only the columns the runbook asked to show; unknown names fail loudly, not silently."""
    if not columns:
        return table
    missing = [c for c in columns if c not in table.columns]
    if missing:
        from ditsops.base.errors import TargetError

        raise TargetError(
            f"the query returned no column {', '.join(missing)} to show (columns: {', '.join(table.columns)})"
        )
    index = [table.columns.index(c) for c in columns]
    return Table(columns, [tuple(row[i] for i in index) for row in table.rows], table.title, table.total)


def _with_units(columns: tuple[str, ...], row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numbers of columns whose name gives their unit (`percent_of_max`) shown in it: `44.0%`."""
    units = [column_unit(c) for c in columns]
    return tuple(
        Quantity(float(v), unit) if unit and isinstance(v, (int, float)) and not isinstance(v, bool) else v
        for v, unit in zip(row, units, strict=True)
    )


def _plain(value: Any) -> Any:
    """Decimals become floats so values compare, render and serialise simply."""
    return float(value) if isinstance(value, Decimal) else value


def measure(expression: str | None, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> float | None:
    if expression is None:
        return None
    match = _VALUE.match(expression)
    aggregate, aggregated, count, column = match.groups() if match else (None, None, None, None)
    if count:
        return float(len(rows))
    name = aggregated or column
    if name not in columns:
        from ditsops.base.errors import TargetError

        raise TargetError(f"the query returned no column {name!r} for 'value' (columns: {', '.join(columns)})")
    index = columns.index(name)
    numbers = [float(row[index]) for row in rows if isinstance(row[index], (int, float))]
    if aggregate == "sum":
        return float(sum(numbers))
    if not numbers:
        return None
    if aggregate == "max":
        return max(numbers)
    if aggregate == "min":
        return min(numbers)
    return numbers[0]
