"""The diagnostic guard as a pure function: each attack, each evasion, and every shipped query passing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ditsops import sql as named_sql
from ditsops.base import sqlguard
from ditsops.base.sqlguard import check, denied, tokens
from ditsops.core.catalog import shipped_dir
from ditsops.core.loader import load_runbook


def messages(query: str) -> str:
    return " | ".join(str(v) for v in check(query))


# --- the attacks from the issue, written as the attack -------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SET TRANSACTION READ WRITE; DELETE FROM victim WHERE id = 1", "SET statement"),
        ("SET TRANSACTION READ WRITE; DELETE FROM victim WHERE id = 1", "more than one statement (DELETE"),
        ("COMMIT; DROP TABLE victim2", "COMMIT statement"),
        ("COMMIT; DROP TABLE victim2", "more than one statement (DROP"),
        ("SELECT 1; DROP TABLE victim2", "more than one statement (DROP"),
        ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "calls pg_terminate_backend()"),
        ("SELECT pg_cancel_backend(pid) FROM pg_stat_activity", "calls pg_cancel_backend()"),
        ("SELECT pg_reload_conf()", "calls pg_reload_conf()"),
        ("SELECT pg_rotate_logfile()", "calls pg_rotate_logfile()"),
        ("SELECT set_config('default_transaction_read_only', 'off', false)", "calls set_config()"),
        ("SELECT nextval('s')", "calls nextval()"),
        ("SELECT setval('s', 1)", "calls setval()"),
        ("SELECT pg_advisory_lock(1)", "calls pg_advisory_lock()"),
        ("SELECT pg_advisory_xact_lock_shared(1)", "calls pg_advisory_xact_lock_shared()"),
        ("SELECT pg_try_advisory_lock(1)", "calls pg_try_advisory_lock()"),
        ("SELECT lo_import('/etc/passwd')", "calls lo_import()"),
        ("SELECT lo_export(1, '/tmp/x')", "calls lo_export()"),
        ("SELECT lo_unlink(1)", "calls lo_unlink()"),
        ("SELECT * FROM dblink('host=evil', 'DROP TABLE t') AS t(x int)", "calls dblink()"),
        ("SELECT dblink_exec('DROP TABLE t')", "calls dblink_exec()"),
        ("SELECT pg_file_write('x', 'y', false)", "calls pg_file_write()"),
        ("SELECT pg_read_file('/etc/passwd')", "calls pg_read_file()"),
        ("SELECT pg_read_binary_file('/etc/passwd')", "calls pg_read_binary_file()"),
        ("SELECT pg_ls_dir('.')", "calls pg_ls_dir()"),
        ("SELECT query_to_xml('DELETE FROM victim', true, true, '')", "calls query_to_xml()"),
        ("SELECT * FROM ts_stat('DELETE FROM victim RETURNING *')", "calls ts_stat()"),
        ("SELECT pg_stat_reset()", "calls pg_stat_reset()"),
        ("SELECT pg_stat_statements_reset()", "calls pg_stat_statements_reset()"),
        ("SELECT pg_switch_wal()", "calls pg_switch_wal()"),
        ("SELECT pg_create_restore_point('x')", "calls pg_create_restore_point()"),
        ("SELECT pg_drop_replication_slot('x')", "calls pg_drop_replication_slot()"),
        ("SELECT pg_notify('c', 'x')", "calls pg_notify()"),
        ("COPY victim TO PROGRAM 'rm -rf /'", "COPY (reads and writes files and programs"),
        ("COPY victim TO STDOUT", "COPY"),
        ("COPY (SELECT 1) TO '/tmp/x'", "COPY"),
        ("DELETE FROM victim", "DELETE statement"),
        ("UPDATE victim SET id = 2", "UPDATE statement"),
        ("INSERT INTO victim VALUES (3)", "INSERT statement"),
        ("DROP TABLE victim", "DROP statement"),
        ("TRUNCATE victim", "TRUNCATE statement"),
        ("ALTER SYSTEM SET work_mem = '1GB'", "ALTER statement"),
        ("CALL p()", "CALL statement"),
        ("DO $$BEGIN DELETE FROM victim; END$$", "DO statement"),
        ("LOCK TABLE victim", "LOCK statement"),
        ("VACUUM victim", "VACUUM statement"),
        ("ANALYZE victim", "ANALYZE statement"),
        ("BEGIN", "BEGIN statement"),
        ("PREPARE p AS DELETE FROM victim", "PREPARE statement"),
        ("NOTIFY c", "NOTIFY statement"),
        ("RESET ALL", "RESET statement"),
        ("WITH gone AS (DELETE FROM victim RETURNING *) SELECT * FROM gone", "DELETE writes or locks rows"),
        ("WITH x AS (SELECT 1) INSERT INTO victim SELECT * FROM x", "INSERT writes or locks rows"),
        ("WITH x AS (UPDATE victim SET id = id RETURNING *) SELECT 1", "UPDATE writes or locks rows"),
        ("SELECT * INTO copied FROM victim", "SELECT INTO creates a table"),
        ("SELECT * FROM victim FOR UPDATE", "UPDATE writes or locks rows"),
        ("SELECT * FROM victim FOR SHARE", "FOR SHARE locks rows"),
        ("SELECT * FROM victim FOR KEY SHARE SKIP LOCKED", "FOR KEY locks rows"),
        ("EXPLAIN ANALYZE DELETE FROM victim", "EXPLAIN ANALYZE runs the statement"),
        ("EXPLAIN (ANALYZE, FORMAT JSON) SELECT pg_sleep(1)", "EXPLAIN ANALYZE runs the statement"),
        ("EXPLAIN (FORMAT JSON, ANALYSE true) SELECT 1", "EXPLAIN ANALYZE runs the statement"),
        ("EXPLAIN DELETE FROM victim", "EXPLAIN of DELETE"),
        ("", "no SQL statement"),
        (";", "no SQL statement"),
    ],
)
def test_attack_is_refused(query, expected):
    assert expected in messages(query)


# --- evasions: comments, quoting, case, schema, literals -------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'SELECT "pg_terminate_backend"(pid) FROM pg_stat_activity',
        'SELECT "PG_TERMINATE_BACKEND"(pid) FROM pg_stat_activity',
        "SELECT PG_TERMINATE_BACKEND(pid) FROM pg_stat_activity",
        "SELECT Pg_Terminate_Backend(pid) FROM pg_stat_activity",
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_stat_activity",
        'SELECT "pg_catalog"."pg_terminate_backend"(pid) FROM pg_stat_activity',
        "SELECT pg_catalog . pg_terminate_backend ( pid ) FROM pg_stat_activity",
        "SELECT pg_terminate_backend/* hidden */(pid) FROM pg_stat_activity",
        "SELECT pg_terminate_backend -- a comment\n(pid) FROM pg_stat_activity",
        "SELECT /* a */ pg_terminate_backend /* b */ (pid) FROM pg_stat_activity",
        "SELECT * FROM pg_terminate_backend(1)",
        "SELECT 'a' || pg_terminate_backend(1)::text || 'b'",
        "SELECT $$x$$, pg_terminate_backend(1), $tag$y$tag$",
        "SELECT E'it\\'s', pg_terminate_backend(1)",
        "SELECT 'it''s', pg_terminate_backend(1)",
        "SELECT /* nested /* twice */ still comment */ pg_terminate_backend(1)",
        "SELECT x.pg_terminate_backend FROM pg_stat_activity x",
    ],
)
def test_evasion_is_still_refused(query):
    assert "calls pg_terminate_backend()" in messages(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1 /* ; DELETE FROM victim */",
        "SELECT 1 -- ; DELETE FROM victim",
        "SELECT 'DROP TABLE victim'",
        "SELECT U&'\\0070g_terminate_backend'",
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_terminate_backend%'",
    ],
)
def test_names_inside_comments_and_literals_are_only_text(query):
    assert check(query) == [], messages(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 'pg_terminate_backend(1); DROP TABLE victim'",
        "SELECT $$ ; pg_terminate_backend(1); DELETE FROM victim $$",
        "SELECT $body$ $$ ; pg_terminate_backend(1) $$ $body$",
        "SELECT E'\\' ; pg_terminate_backend(1) --'",
        "SELECT E'pg\\x5fterminate_backend (1)'",
        "SELECT U&'\\0070g_terminate_backend(1)'",
        "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, pg_terminate_backend(pid)::text::tsquery')",
    ],
)
def test_a_call_written_in_a_string_is_refused_as_a_string(query):
    # Read as the server reads it (a string, not a call), but some functions run strings as SQL.
    assert "a string holds a call to pg_terminate_backend()" in messages(query)
    assert "calls pg_terminate_backend()" not in messages(query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # PostgreSQL ends a -- comment at CR too: what follows is code.
        ("SELECT 1 -- c\r, pg_terminate_backend(pid) FROM pg_stat_activity", "calls pg_terminate_backend()"),
        # {{ x }} is sent as $1: `$` + `$1` + `$` is the dollar quote `$$1$`, closed by the next `$$`.
        ("SELECT $%(x)s$ $$, pg_terminate_backend(pid) FROM pg_stat_activity -- $$", "calls pg_terminate_backend()"),
        ('EXPLAIN ("analyze") SELECT 1', "EXPLAIN ANALYZE runs"),
        ("SELECT * FROM pg_ls_waldir()", "calls pg_ls_waldir()"),
        ("SELECT * FROM pg_ls_logdir()", "calls pg_ls_logdir()"),
        ("SELECT ts_rewrite(q, 'x') FROM t", "calls ts_rewrite()"),
        ("SELECT U&'x' UESCAPE '!'", "UESCAPE"),
    ],
)
def test_the_gaps_of_issue_18_are_closed(query, expected):
    assert expected in messages(query)


def test_only_postgresqls_own_spaces_separate_tokens():
    # U+00A0 is part of a name to the server (`x\u00a0` below), never a space between tokens.
    assert [t.text for t in tokens("SELECT x\u00a0-- y")] == ["select", "x\u00a0"]


def test_tokens_not_substrings():
    assert check("SELECT 1 AS my_nextval_count, n_tup_upd, pg_stat_get_live_tuples(1) FROM pg_stat_user_tables") == []
    assert check("SELECT low, lower('X'), blocks FROM t") == []
    assert check("SELECT CASE WHEN true THEN 1 END AS updated_rows, 'update' AS x") == []


def test_a_string_the_server_would_end_earlier_is_read_as_the_server_reads_it():
    # standard_conforming_strings=on: a backslash in '' is plain, the quote after it ends the string
    assert "calls pg_terminate_backend()" in messages("SELECT 'a\\', pg_terminate_backend(1), 'b'")


def test_unreadable_sql_is_refused_not_guessed():
    assert "unterminated string literal" in messages("SELECT 'open")
    assert "unterminated /* comment" in messages("SELECT 1 /* open /* nested */")
    assert "unterminated dollar-quoted string $x$" in messages("SELECT $x$ open")
    assert "unterminated quoted identifier" in messages('SELECT "open')
    assert "Unicode-escaped identifier" in messages('SELECT U&"\\0070g_terminate_backend"(1)')


def test_violations_carry_the_line_of_the_offending_token():
    query = "SELECT pid,\n       state\nFROM pg_stat_activity\nWHERE pg_cancel_backend(pid)"
    (violation,) = check(query)
    assert violation.line == 4 and "pg_cancel_backend" in violation.message
    (violation,) = check("SELECT $a$\n\n$a$, 'x\n', /* \n */ \"y\n\", pg_reload_conf()")
    assert violation.line == 6


def test_a_trailing_semicolon_is_one_statement():
    assert check("SELECT 1;") == []
    assert check("SELECT 1 ;  -- done\n") == []


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "WITH x AS (SELECT 1 AS n) SELECT n FROM x",
        "VALUES (1), (2)",
        "SHOW max_connections",
        "SHOW ALL",
        "TABLE pg_stat_activity",
        "EXPLAIN SELECT * FROM pg_class",
        "EXPLAIN (FORMAT JSON, COSTS false) SELECT 1",
        "EXPLAIN VERBOSE SELECT 1",
        "SELECT pg_sleep(0.1), current_setting('max_connections'), pg_blocking_pids(1), pg_backend_pid()",
        "SELECT count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity WHERE datname = %(db)s",
        "SELECT $1::int",
        "SELECT now() - %(older_than)s::interval, 10 %% 3",
    ],
)
def test_read_only_queries_pass(query):
    assert check(query) == [], messages(query)


def test_denied_names_match_case_insensitively_and_by_family():
    assert denied("PG_TERMINATE_BACKEND")
    assert denied("pg_advisory_unlock_all") and denied("pg_try_advisory_xact_lock")
    assert denied("lo_from_bytea") and denied("dblink_connect") and denied("pg_write_anything")
    assert denied("pg_logical_slot_get_changes") and denied("pg_wal_replay_pause")
    assert not denied("pg_blocking_pids") and not denied("current_setting") and not denied("pg_sleep")
    assert not denied("lower") and not denied("currval") and not denied("pg_stat_activity")


def test_tokens_unquote_identifiers_and_keep_literal_contents():
    found = [(t.kind, t.text) for t in tokens('SELECT "A""b", \'x\', $$y$$ FROM t -- c')]
    assert found == [
        ("word", "select"),
        ("ident", 'A"b'),
        ("punct", ","),
        ("string", "x"),
        ("punct", ","),
        ("string", "y"),
        ("word", "from"),
        ("word", "t"),
    ]


# --- everything shipped passes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", named_sql.names())
def test_every_read_only_file_in_ditsops_sql_passes(name):
    assert check(named_sql.load(name)) == [], messages(named_sql.load(name))


def test_action_sql_is_out_of_the_diagnostics_path():
    assert "signal_backends" not in named_sql.names()
    with pytest.raises(KeyError):
        named_sql.load("signal_backends")
    # the action's own SQL would be refused as a diagnostic, which is why it is kept apart
    assert "pg_terminate_backend" in messages(named_sql.load_action("signal_backends"))
    for bad in ("../sql/actions/signal_backends", "actions/signal_backends", "actions.signal_backends"):
        with pytest.raises(KeyError):
            named_sql.load(bad)


SHIPPED = sorted([*shipped_dir().glob("*.yaml"), *shipped_dir().glob("*.yml")])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_runbook_sql_passes(path: Path):
    runbook = load_runbook(path)  # the loader applies the guard; check again here, visibly
    for step in runbook.steps:
        if step.kind == "sql":
            assert check(step.spec.bound) == [], f"{path}:{step.line}: {messages(step.spec.bound)}"


def test_rules_are_listed_in_the_module():
    assert set(sqlguard.STATEMENTS) == {"select", "with", "values", "show", "table", "explain"}
