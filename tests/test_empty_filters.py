"""No empty or blank filter ever widens a destructive selection (issue 18, item 2).

`db terminate --app '' --older-than 1s --yes` dropped the empty filter and terminated
every application's non-idle backends. Each blank spelling, on the direct commands and
in a runbook's literal filters, is now refused: one line, exit 2, nothing terminated.
"""

from __future__ import annotations

import pytest

from tests.cli import run_cli

STATE_ACTIVE = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s AND state = 'active'"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--app", "", "--older-than", "1s"], "--app is empty"),
        (["--app", "   ", "--older-than", "1s"], "--app is empty"),
        (["--user", "", "--older-than", "1s"], "--user is empty"),
        (["--db", "", "--state", "active"], "--db is empty"),
        (["--state", "", "--older-than", "1s"], "--state is empty"),
        (["--older-than", "", "--state", "active"], "--older-than is empty"),
        (["--older-than", "0s"], "--older-than must be longer than 0s"),
    ],
)
@pytest.mark.parametrize("action", ["terminate", "cancel"])
def test_a_blank_filter_on_a_direct_command_is_refused(isolated_home, pg_dsn, sessions, options, named, action):
    running = sessions.active()
    sessions.wait_until(STATE_ACTIVE, 1)
    done = run_cli("db", action, *options, "--yes", env={"DITSOPS_DSN": pg_dsn})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == f"ditsops: db {action}: {named}" + (
        "; refusing to widen the selection" if "empty" in named else " (0s would select every session)"
    )
    assert running.info.backend_pid in sessions.alive()
    sessions.wait_until(STATE_ACTIVE, 1)  # still running its query: not even cancelled


@pytest.mark.parametrize("literal", ['""', '"  "', "[]", '[""]'])
def test_a_blank_literal_filter_in_a_runbook_fails_lint(isolated_home, tmp_path, literal):
    path = tmp_path / "blank.yaml"
    path.write_text(
        "name: blank\ntitle: Blank\nsteps:\n  - id: kill\n    title: Kill\n    action: terminate-backends\n"
        f"    filters: {{older_than: 1s, application: {literal}}}\n"
    )
    done = run_cli("runbook", "lint", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "filter application is empty" in done.stderr
