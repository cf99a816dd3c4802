"""Independent diagnostics against different targets overlap: a slow database does not
hold back the check of another service, while results still render in runbook order.
Reads of one HTTP target overlap up to four at a time; SQL reads of one database run one
after another on one connection (core/engine.py, _Prefetch)."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli import run_cli
from tests.helpers import wait_until
from tests.promfixtures import Exporter

pytestmark = pytest.mark.services  # a loopback stand-in server, besides the fixtures' PostgreSQL

# Long enough that a loaded machine still starts the next target's check inside it: the
# ordering asserted below then holds by a wide margin rather than by luck.
SLOW_QUERY_SECONDS = 4


def test_a_slow_query_does_not_delay_the_next_targets_check(tmp_path, isolated_home, pg_dsn, diag_dsn):
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
        env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn, "DITSOPS_DITS_URL": exporter.url}
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


class GatedPrometheus:
    """A stand-in Prometheus whose query answers wait at a gate until the test opens it,
    counting the requests in flight (and the most there ever were at once)."""

    BODY = json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}}
    ).encode()

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.in_flight = self.peak = self.arrived = 0
        self.open = False
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/api/v1/alerts"):  # the walk's look at the other alerts: not a read
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with stand_in.changed:
                    stand_in.arrived += 1
                    stand_in.in_flight += 1
                    stand_in.peak = max(stand_in.peak, stand_in.in_flight)
                    stand_in.changed.wait_for(lambda: stand_in.open, timeout=120)  # bound only if never opened
                    stand_in.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(stand_in.BODY)))
                self.end_headers()
                self.wfile.write(stand_in.BODY)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        with self.changed:
            self.open = True
            self.changed.notify_all()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def test_reads_of_one_prometheus_overlap_at_most_four_at_a_time(tmp_path, isolated_home):
    reads = 6  # more than may be in flight at once
    path = tmp_path / "practice.yaml"
    steps = "".join(f"  - {{id: read-{n}, title: Read {n}, promql: 'vector({n})'}}\n" for n in range(1, reads + 1))
    path.write_text(f"name: practice\ntitle: Six reads of one Prometheus\nsteps:\n{steps}", encoding="utf-8")
    prometheus = GatedPrometheus()
    try:
        with ThreadPoolExecutor(1) as pool:
            walk = pool.submit(
                run_cli, "runbook", str(path), "-o", "json", env={"DITSOPS_PROMETHEUS_URL": prometheus.url}
            )
            # All held at the gate: the reads that the engine lets overlap are all in flight.
            wait_until(
                lambda: prometheus.in_flight, timeout=60, what="four reads in flight at once", until=lambda n: n >= 4
            )
            prometheus.release()
            done = walk.result()
    finally:
        prometheus.close()
    assert done.returncode == 0, done.stdout + done.stderr
    walked = json.loads(done.stdout)["steps"]
    assert [s["id"] for s in walked] == [f"read-{n}" for n in range(1, reads + 1)]  # shown in runbook order
    assert prometheus.arrived == reads
    assert prometheus.peak == 4, f"{prometheus.peak} reads of one Prometheus were in flight at once (limit 4)"


def test_sql_reads_of_one_database_run_one_after_another_on_one_connection(tmp_path, isolated_home, pg_dsn, diag_dsn):
    path = tmp_path / "practice.yaml"
    steps = "".join(
        f"""
          - id: query-{n}
            title: Query {n}
            sql: >-
              SELECT pg_backend_pid() AS pid, extract(epoch FROM clock_timestamp()) AS started,
              pg_sleep(0.1), extract(epoch FROM clock_timestamp()) AS finished
        """
        for n in range(1, 4)
    )
    path.write_text(textwrap.dedent("name: practice\ntitle: Three queries\nsteps:") + textwrap.dedent(steps))
    env = {"DITSOPS_DSN": pg_dsn, "DITSOPS_DIAGNOSTICS_DSN": diag_dsn}
    done = run_cli("runbook", str(path), "-o", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [step["result"]["rows"][0] for step in json.loads(done.stdout)["steps"]]
    assert len({pid for pid, *_ in rows}) == 1  # one connection for the whole run
    for (_, _, _, finished), (_, started, _, _) in zip(rows, rows[1:], strict=False):
        assert finished <= started  # each statement began after the one before it ended
