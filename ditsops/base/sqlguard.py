"""What a SQL diagnostic may be: one read-only statement, no function with side effects.

Checked on tokens (base/sqltokens.py), never on substrings: comments are dropped, string
literals are read as their contents, quoted identifiers are unquoted, and names are
compared case-insensitively whatever their schema (`pg_catalog.pg_terminate_backend`,
`"PG_TERMINATE_BACKEND"`). A string holding a call to a denied function is refused too:
ts_rewrite, dblink and functions like them run strings as SQL. Anything the scanner
cannot read for sure (an unterminated string or comment, a Unicode-escaped identifier)
is refused rather than guessed.

The rules (README, "What a diagnostic may not do"):
- exactly one statement, starting with SELECT, WITH, VALUES, SHOW, TABLE or EXPLAIN
  (EXPLAIN without ANALYZE, which would run the statement);
- nothing that writes or locks inside it: INSERT, UPDATE, DELETE, MERGE, TRUNCATE (a
  data-modifying WITH), SELECT INTO (creates a table), FOR UPDATE/SHARE (row locks);
- no function that signals sessions, changes settings or sequences, takes advisory
  locks, touches large objects or server files, reaches other servers, runs SQL given
  as text, or otherwise changes server state (see DENIED and DENIED_PREFIXES).

Pure: no I/O, nothing beyond the standard library and the scanner; used by the runbook
loader (lint) and again by the PostgreSQL client before anything is sent.

The scanner assumes standard_conforming_strings=on (backslashes in '' are plain); the
PostgreSQL client sets it on every connection. It reads the text the server receives:
psycopg's `%(name)s` becomes `$n` first (so `${{ x }}$` is the dollar quote `$$1$` the
server sees), a `--` comment ends at CR as well as LF, and only PostgreSQL's own space
characters separate tokens (any other character above ASCII is part of a name).

This is lint's early warning, never the defence: SQL that did not ship with ditsops runs
only on a role that cannot signal, read or write server files or run programs (README,
"The diagnostics role"). It cannot see into functions or views that already exist in the
database, so it does not try.
"""

from __future__ import annotations

import re

from ditsops.base.sqltokens import Token, Unreadable, Violation, as_sent, tokens

__all__ = ["Token", "Violation", "as_sent", "check", "denied", "first_problem", "tokens"]

STATEMENTS = ("select", "with", "values", "show", "table", "explain")
# The statements EXPLAIN may look at (never executes them without ANALYZE).
EXPLAINABLE = ("select", "with", "values", "table")

_SIGNALS = "signals or stops other sessions"
_SETTINGS = "changes server or session settings"
_SEQUENCES = "changes a sequence"
_ADVISORY = "takes an advisory lock"
_LARGE_OBJECTS = "reads or writes large objects and server files"
_FILES = "reads or writes files on the database server"
_REMOTE = "runs SQL on another server"
_SQL_TEXT = "runs SQL given as text, which this check cannot see"
_SERVER = "changes server state (WAL, backups, replication, statistics, logs)"
_XID = "assigns a transaction id"

DENIED: dict[str, str] = {
    "pg_terminate_backend": _SIGNALS,
    "pg_cancel_backend": _SIGNALS,
    "pg_signal_backend": _SIGNALS,
    "pg_reload_conf": _SETTINGS,
    "pg_rotate_logfile": _SERVER,
    "pg_rotate_logfile_old": _SERVER,
    "set_config": _SETTINGS,
    "nextval": _SEQUENCES,
    "setval": _SEQUENCES,
    "loread": _LARGE_OBJECTS,
    "lowrite": _LARGE_OBJECTS,
    "pg_ls_dir": _FILES,
    "pg_stat_file": _FILES,
    "pg_switch_wal": _SERVER,
    "pg_switch_xlog": _SERVER,
    "pg_start_backup": _SERVER,
    "pg_stop_backup": _SERVER,
    "pg_promote": _SERVER,
    "pg_notify": _SERVER,
    "pg_import_system_collations": _SERVER,
    "pg_replication_slot_advance": _SERVER,
    "pg_prewarm": _SERVER,
    "brin_desummarize_range": _SERVER,
    "gin_clean_pending_list": _SERVER,
    "ts_stat": _SQL_TEXT,
    "ts_rewrite": _SQL_TEXT,
    "txid_current": _XID,
    "pg_current_xact_id": _XID,
}
DENIED_PREFIXES: dict[str, str] = {
    "pg_advisory_": _ADVISORY,
    "pg_try_advisory_": _ADVISORY,
    "lo_": _LARGE_OBJECTS,
    "dblink": _REMOTE,
    "pg_file_": _FILES,
    "pg_ls_": _FILES,
    "pg_write_": _FILES,
    "pg_read_": _FILES,
    "database_to_xml": _SQL_TEXT,
    "schema_to_xml": _SQL_TEXT,
    "query_to_xml": _SQL_TEXT,
    "cursor_to_xml": _SQL_TEXT,
    "pg_create_": _SERVER,
    "pg_drop_": _SERVER,
    "pg_copy_": _SERVER,
    "pg_replication_origin_": _SERVER,
    "pg_logical_": _SERVER,
    "pg_wal_replay_": _SERVER,
    "pg_xlog_replay_": _SERVER,
    "pg_backup_": _SERVER,
    "pg_log_": _SERVER,
    "pg_stat_reset": _SERVER,
    "brin_summarize_": _SERVER,
}
DENIED_SUFFIXES: dict[str, str] = {"_reset": _SERVER}  # pg_stat_statements_reset, ...
# A call written inside a string: functions such as ts_rewrite or dblink run their string
# arguments as SQL, and an existing function may do the same.
_CALL_IN_TEXT = re.compile(r"([A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*)\s*\(")
# Words that write or lock wherever they stand in a SELECT (a data-modifying WITH, FOR UPDATE).
WRITES = ("insert", "update", "delete", "merge", "truncate")


def denied(name: str) -> str | None:
    """Why a function name is refused, or None. Case-insensitive; no schema."""
    name = name.lower()
    if name in DENIED:
        return DENIED[name]
    for prefix, why in DENIED_PREFIXES.items():
        if name.startswith(prefix):
            return why
    for suffix, why in DENIED_SUFFIXES.items():
        if name.endswith(suffix):
            return why
    return None


def check(sql: str) -> list[Violation]:
    """Every reason this SQL is not a diagnostic; empty when it may be sent."""
    try:
        found = tokens(as_sent(sql))
    except Unreadable as error:
        return [error.violation]
    statements: list[list[Token]] = [[]]
    for token in found:
        if token.kind == "punct" and token.text == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [s for s in statements if s]
    if not statements:
        return [Violation(1, "no SQL statement")]
    problems = _check_statement(statements[0])
    for extra in statements[1:]:
        problems.append(
            Violation(
                extra[0].line,
                f"more than one statement ({_name(extra)} after the first): a diagnostic runs exactly one",
            )
        )
    for statement in statements[1:]:
        problems += _check_statement(statement)
    unique: dict[str, Violation] = {}
    for problem in problems:
        unique.setdefault(f"{problem.line}:{problem.message}", problem)
    return list(unique.values())


def first_problem(sql: str) -> Violation | None:
    problems = check(sql)
    return problems[0] if problems else None


def _name(statement: list[Token]) -> str:
    first = _first_word(statement)
    return first.text.upper() if first else "a statement"


def _first_word(statement: list[Token]) -> Token | None:
    for token in statement:
        if token.kind == "punct" and token.text == "(":
            continue
        return token if token.kind == "word" else None
    return None


def _check_statement(statement: list[Token]) -> list[Violation]:
    problems: list[Violation] = []
    first = _first_word(statement)
    line = statement[0].line
    if first is None or first.text not in STATEMENTS:
        what = f"{first.text.upper()} statement" if first else "this statement"
        if first and first.text == "copy":
            what = "COPY (reads and writes files and programs on the server)"
        problems.append(
            Violation(
                first.line if first else line,
                f"{what}: a diagnostic is one SELECT, WITH, VALUES, SHOW, TABLE or EXPLAIN (without ANALYZE)",
            )
        )
    else:
        if first.text == "explain":
            problems += _check_explain(statement, statement.index(first))
        problems += _check_writes(statement)
    for token in statement:
        if token.kind in ("word", "ident"):
            why = denied(token.text)
            if why:
                problems.append(Violation(token.line, f"calls {token.text.lower()}(): it {why}"))
        elif token.kind == "string":
            for name in _CALL_IN_TEXT.findall(token.text):
                why = denied(name)
                if why:
                    problems.append(
                        Violation(
                            token.line,
                            f"a string holds a call to {name.lower()}(), which {why}: "
                            "functions such as ts_rewrite and dblink run strings as SQL",
                        )
                    )
    return problems


def _check_writes(statement: list[Token]) -> list[Violation]:
    """Writing or locking inside an allowed statement: a data-modifying WITH, INTO, FOR UPDATE."""
    problems: list[Violation] = []
    words = [t for t in statement if t.kind == "word"]
    for index, token in enumerate(words):
        if token.text in WRITES:
            problems.append(Violation(token.line, f"{token.text.upper()} writes or locks rows"))
        elif token.text == "into":
            problems.append(Violation(token.line, "SELECT INTO creates a table"))
        elif token.text == "for" and index + 1 < len(words) and words[index + 1].text in ("share", "key", "no"):
            problems.append(Violation(token.line, f"FOR {words[index + 1].text.upper()} locks rows"))
    return problems


def _check_explain(statement: list[Token], start: int) -> list[Violation]:
    rest = statement[start + 1 :]
    for token in rest:
        # EXPLAIN ("analyze") is EXPLAIN (ANALYZE): the option name may be a quoted identifier.
        if token.kind in ("word", "ident") and token.text.lower() in ("analyze", "analyse"):
            return [Violation(token.line, "EXPLAIN ANALYZE runs the statement it explains")]
    if rest and rest[0].kind == "punct" and rest[0].text == "(":  # EXPLAIN (FORMAT JSON, ...) ...
        depth = 0
        for index, token in enumerate(rest):
            if token.kind == "punct" and token.text in "()":
                depth += 1 if token.text == "(" else -1
                if depth == 0:
                    rest = rest[index + 1 :]
                    break
    while rest and rest[0].kind == "word" and rest[0].text == "verbose":
        rest = rest[1:]
    explained = _first_word(rest)
    if explained is None or explained.text not in EXPLAINABLE:
        what = explained.text.upper() if explained else "nothing it can read"
        return [
            Violation(
                explained.line if explained else statement[start].line,
                f"EXPLAIN of {what}: a diagnostic explains only SELECT, WITH, VALUES or TABLE",
            )
        ]
    return []
