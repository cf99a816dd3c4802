"""Independent diagnostics against different targets overlap: a slow database does not
hold back the check of another service, while results still render in runbook order."""

from __future__ import annotations

import json
import textwrap
import time

from tests.cli import run_cli
from tests.promfixtures import Exporter

# Long enough that a loaded machine still starts the next target's check inside it: the
# ordering asserted below then holds by a wide margin rather than by luck.
SLOW_QUERY_SECONDS = 4


def test_a_slow_query_does_not_delay_the_next_targets_check(tmp_path, isolated_home, pg_dsn):
    arrivals: list[float] = []
    exporter = Exporter(lambda: "")
    exporter.routes["/health"] = lambda: arrivals.append(time.time())
    try:
        path = tmp_path / "practice.yaml"
        path.write_text(
            textwrap.dedent(f"""
            name: practice
            title: Overlap
            steps:
              - id: slow-db
                title: A slow query
                sql: >-
                  SELECT extract(epoch FROM clock_timestamp()) AS started, pg_sleep({SLOW_QUERY_SECONDS}),
                  extract(epoch FROM clock_timestamp()) AS done
              - id: service
                title: The service answers
                http: /health
              - id: gated
                title: Waits for its condition
                when: slow-db ok
                http: /health
        """)
        )
        # http steps go to a configured target: the exporter stands in for the Dits server.
        env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DITS_URL": exporter.url}
        done = run_cli("runbook", str(path), "-o", "json", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        steps = json.loads(done.stdout)["steps"]
        assert [s["id"] for s in steps] == ["slow-db", "service", "gated"]  # shown in order
        started, _, finished = steps[0]["result"]["rows"][0]
        first, second = arrivals
        assert started <= first < finished  # checked while the query was still running
        assert second >= finished  # a conditional step waits for what it depends on
    finally:
        exporter.close()
