"""A Dits server simulator for the practice sandbox and the tests.

    DITS_SIM_DSN=postgresql://... python -m ditsops.sandbox.simulator --port 9101 \\
        --control-file /path/faults.json

Serves on 127.0.0.1 (stdlib ThreadingHTTPServer):
    GET /metrics         every server metric of the monitoring spec, text format 0.0.4
    GET /health          the spec's JSON (database check is a real SELECT 1); 200 or 503
    GET /health/live     200 while the process answers
    GET /health/ready    200 when the database answers SELECT 1, else 503
    GET /sandbox/faults  the faults in effect, as JSON (read-only; see simcontrol.py)

Faults come from the JSON control file (simcontrol.py), re-read every tick; a requested
fault stops being applied once the fix a production engineer would apply has happened
(simfixes.py: a restart, a scale-out, a GC job, the lock holder terminated), and
/sandbox/faults lists it as healed until it is cleared or requested again. The DSN is
read from an environment variable (--dsn-env, default DITS_SIM_DSN), never from the
command line, where any local user could read the password in the process list.

The deployed image comes from an `ImageSource`: `--image` (a `StaticImage`), or with
`--kube-url` the dits-server Deployment in the sandbox Kubernetes API (kubefacts.py's
`KubeDeploymentSource`, which also tells restarts, ready replicas, DATABASE_POOL_SIZE and
dits-gc's Jobs; serverlogs.py's `KubeLogWriter` writes the server's log lines into its pods). Whenever
`image_is_bad(image)` says so (the release the bad-deploy fault ships), the simulator
behaves as if the error-spike fault were on, and rolling back to a good image ends it.

With a DSN, the simulator also counts PostgreSQL's client connections every 2 s: above
90% of max_connections (or when PostgreSQL refuses with "too many clients") its pool
gauges show exhaustion as if db-exhaustion were on, so a real connection hog fires
DatabaseConnectionsExhausted and terminating the hog's backends resolves it. The same look
counts sessions waiting on a lock, which is what plays lock-contention with a DSN.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

from ditsops.base.errors import DitsopsError
from ditsops.sandbox import kubefacts, kubesource, serverlogs, simcontrol
from ditsops.sandbox.kubefacts import DeploymentFacts
from ditsops.sandbox.metrics import CONTENT_TYPE
from ditsops.sandbox.simfixes import FixTracker
from ditsops.sandbox.simhealth import check_database, database_state, health_status
from ditsops.sandbox.simmodel import DB_POOL_MAX, DitsModel

DEFAULT_IMAGE = "registry.example.com/dits/dits-server:1.4.2"
DEFAULT_DSN_ENV = "DITS_SIM_DSN"
TICK_SECONDS = 0.25
# The real PostgreSQL behind the DSN is looked at this often; above this share of its
# max_connections the server's own pool starves too, which plays the db-exhaustion fault.
DATABASE_POLL_SECONDS = 2.0
DATABASE_EXHAUSTED_SHARE = 0.9
POOL_SIZE_ENV = "DATABASE_POOL_SIZE"  # in the dits-server Deployment's env: the pool's size


class ImageSource(Protocol):
    """Where the simulator learns which dits-server image is deployed (a source may also
    have `facts() -> DeploymentFacts`: restarts, replicas, env, GC jobs)."""

    def current_image(self) -> str | None: ...


@dataclass(frozen=True)
class StaticImage:
    image: str = DEFAULT_IMAGE

    def current_image(self) -> str | None:
        return self.image

    def facts(self) -> DeploymentFacts:
        return DeploymentFacts(image=self.image)


def pool_size(env: dict[str, str] | object) -> int:
    """DATABASE_POOL_SIZE from the server's env; DB_POOL_MAX when absent or not a positive number."""
    value = env.get(POOL_SIZE_ENV) if isinstance(env, dict) else None
    try:
        size = int(str(value).strip()) if value is not None else DB_POOL_MAX
    except ValueError:
        return DB_POOL_MAX
    return size if size > 0 else DB_POOL_MAX


def image_is_bad(image: str | None) -> bool:
    """Whether `image` is the broken release the bad-deploy fault ships (tag 1.5.0)."""
    return kubesource.is_bad_image(image)


def image_version(image: str | None) -> str:
    """The tag of `registry/name:tag` (what /health reports as version)."""
    if not image:
        return "unknown"
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else "latest"


@dataclass(frozen=True)
class SimulatorConfig:
    port: int
    host: str = "127.0.0.1"
    dsn: str | None = field(default=None, repr=False)  # repr=False: keep passwords out of logs
    control_file: Path | None = None
    tick_seconds: float = TICK_SECONDS
    seed: int | None = None
    verbose: bool = False


class Simulator:
    def __init__(
        self,
        config: SimulatorConfig,
        image_source: ImageSource | None = None,
        is_bad: Callable[[str | None], bool] = image_is_bad,
    ) -> None:
        self.config = config
        self.image_source = image_source or StaticImage()
        self.is_bad = is_bad
        self.rng = random.Random(config.seed)
        self.started_at = time.time()
        self.model = DitsModel(self.started_at, random.Random(self.rng.random()))
        self.faults: frozenset[str] = frozenset()  # requested in the control file
        self.requests: dict[str, float] = {}  # the same, with the time of each request
        self.applied_faults: frozenset[str] = frozenset()  # in effect since the last tick
        self.fixes = FixTracker(watches_database=bool(config.dsn))
        self.facts: DeploymentFacts = self._facts()
        self.image: str | None = self.facts.image
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self._warned: set[str] = set()
        self.database_usage: float | None = None  # share of PostgreSQL's max_connections in use
        self.lock_waiters: int | None = None  # PostgreSQL sessions waiting on a lock

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.tick()
        if self._server is None and "service-down" not in self.applied_faults:
            raise DitsopsError(f"the simulator could not listen on {self.config.host}:{self.config.port}")
        self._ticker = threading.Thread(target=self._tick_loop, name="dits-sim-tick", daemon=True)
        self._ticker.start()
        if self.config.dsn:
            threading.Thread(target=self._watch_database, name="dits-sim-pg", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self._close_listener()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(self.config.tick_seconds):
            try:
                self.tick()
            except Exception as exc:  # a bad tick must not end the simulation
                self._warn(f"tick failed: {exc!r}")

    def _watch_database(self) -> None:
        assert self.config.dsn
        while not self._stopping.is_set():
            state = database_state(self.config.dsn)
            self.database_usage = state.usage if state else None
            if state is None or state.lock_waiters is not None:  # "too many clients" does not say
                self.lock_waiters = state.lock_waiters if state else None
            self._stopping.wait(DATABASE_POLL_SECONDS)

    def tick(self) -> None:
        """Re-read the faults and the deployment, advance the model, open or close the port."""
        now = time.time()
        self.requests = self._read_requests()
        self.faults = frozenset(self.requests)
        self.facts = self._facts()
        self.image = self.facts.image
        effective = self.effective_faults(now)
        self.model.set_pool_max(pool_size(dict(self.facts.env)))
        self.model.advance(now, effective)
        self.applied_faults = effective
        if "service-down" in effective:
            self._close_listener()
        elif self._server is None:
            self._open_listener()

    def effective_faults(self, now: float | None = None) -> frozenset[str]:
        """The control file's faults that no fix has ended, plus error-spike while a bad image
        is deployed and db-exhaustion while the real PostgreSQL is nearly out of connections."""
        applied = self.fixes.update(self.requests, self.facts, self.lock_waiters, now or time.time())
        faults = set(applied)
        if self.is_bad(self.image):
            faults.add("error-spike")
        if self.database_usage is not None and self.database_usage > DATABASE_EXHAUSTED_SHARE:
            faults.add("db-exhaustion")
        return frozenset(faults)

    def _read_requests(self) -> dict[str, float]:
        path = self.config.control_file
        if path is None:
            return {}
        try:
            requested = simcontrol.read_requests(path)
        except (OSError, ValueError) as exc:  # keep the last good set while a writer misbehaves
            self._warn(f"cannot read control file {path}: {exc}")
            return self.requests
        unknown = set(requested) - set(simcontrol.FAULTS)
        if unknown:
            self._warn(f"ignoring unknown faults in {path}: {', '.join(sorted(unknown))}")
        return {name: when for name, when in requested.items() if name in simcontrol.FAULTS}

    def _facts(self) -> DeploymentFacts:
        facts = getattr(self.image_source, "facts", None)
        return facts() if callable(facts) else DeploymentFacts(image=self.image_source.current_image())

    def _warn(self, message: str) -> None:
        if message not in self._warned:  # once each: the tick runs four times a second
            self._warned.add(message)
            print(f"dits-sim: {message}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ listener
    def _open_listener(self) -> None:
        """Listen (again). Closing the socket, not answering 5xx, is what service-down means:
        Prometheus gets connection refused, and so do /health and every runbook probe."""
        try:
            server = ThreadingHTTPServer((self.config.host, self.config.port), _handler_for(self))
        except OSError as exc:
            self._warn(f"cannot listen on {self.config.host}:{self.config.port}: {exc}")
            return
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------------ endpoints
    def metrics_text(self) -> str:
        return self.model.render()

    def uptime(self) -> float:
        return time.time() - self.started_at

    def faults_document(self) -> dict[str, object]:
        facts = self.facts
        return {
            "faults": sorted(self.applied_faults),
            "requested": sorted(self.faults),
            "requested_at": dict(sorted(self.requests.items())),
            "healed": sorted(self.fixes.healed),  # requested, but ended by a fix (restart, scale-out, ...)
            "control_file": str(self.config.control_file) if self.config.control_file else None,
            "image": self.image,
            "image_bad": self.is_bad(self.image),
            "database_usage": self.database_usage,
            "lock_waiters": self.lock_waiters,
            "deployment": {
                "live": facts.live,
                "template_hash": facts.template_hash,
                "template_changes": facts.template_changes,
                "restarted_at": facts.restarted_at,
                "rolled_out": facts.rolled_out,
                "replicas": facts.replicas,
                "ready_replicas": facts.ready_replicas,
                "pool_size": self.model.pool_max,
                "gc_jobs": [job.name for job in facts.gc_jobs],
                "jobs_api": facts.jobs_api,
            },
        }


def _handler_for(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dits-server-sim"
        # HTTP/1.0: one request per connection, so closing the listener ends the service at once.
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, sim.metrics_text().encode(), CONTENT_TYPE)
            elif path == "/health":
                status = health_status(image_version(sim.image), sim.uptime(), sim.config.dsn, sim.rng)
                self._json(status.http_status, status.to_json())
            elif path == "/health/live":
                self._send(200, b"", "text/plain")
            elif path == "/health/ready":
                ready = check_database(sim.config.dsn).healthy
                self._send(200 if ready else 503, b"", "text/plain")
            elif path == "/sandbox/faults":
                self._json(200, sim.faults_document())
            else:
                self._json(404, {"error": f"no route for {path}"})

        def _json(self, code: int, document: object) -> None:
            self._send(code, json.dumps(document).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            if sim.config.verbose:
                super().log_message(format, *args)

    return Handler


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ditsops.sandbox.simulator",
        description="Simulate a Dits server (metrics, health endpoints, faults) for the ditsops sandbox.",
        epilog="Example: DITS_SIM_DSN=postgresql://127.0.0.1:5433/postgres "
        "python -m ditsops.sandbox.simulator --port 9101 --control-file /tmp/faults.json",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--dsn-env",
        default=DEFAULT_DSN_ENV,
        help=f"environment variable holding the PostgreSQL DSN for the database check (default {DEFAULT_DSN_ENV})",
    )
    parser.add_argument("--control-file", type=Path, help="JSON fault control file, re-read every tick")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="the dits-server image to report as deployed")
    parser.add_argument(
        "--kube-url",
        help="read the deployed image, restarts, replicas and env from this Kubernetes API's dits-server "
        "Deployment (instead of --image), watch dits-gc's Jobs, and write the server's log lines into its pods",
    )
    parser.add_argument("--kube-namespace", default=kubesource.NAMESPACE, help="namespace of the Deployment")
    parser.add_argument("--kube-deployment", default=kubesource.DEPLOYMENT, help="name of the Deployment")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible numbers")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = SimulatorConfig(
        port=args.port,
        host=args.host,
        dsn=os.environ.get(args.dsn_env) or None,
        control_file=args.control_file,
        seed=args.seed,
        verbose=args.verbose,
    )
    image_source: ImageSource = StaticImage(args.image)
    if args.kube_url:
        image_source = kubefacts.KubeDeploymentSource(
            args.kube_url, args.kube_namespace, args.kube_deployment, fallback=args.image
        ).start()
    simulator = Simulator(config, image_source=image_source)
    if args.kube_url:
        serverlogs.KubeLogWriter(
            args.kube_url,
            lambda: serverlogs.ServerState(
                image_version(simulator.image), simulator.is_bad(simulator.image), simulator.applied_faults
            ),
            namespace=args.kube_namespace,
            selector=f"app={args.kube_deployment}",
            seed=args.seed,
        ).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        simulator.start()
    except DitsopsError as exc:
        print(f"dits-sim: {exc.message}", file=sys.stderr)
        return 1
    print(f"dits-sim: serving http://{config.host}:{config.port}/metrics", flush=True)
    # Wake up now and then: a signal delivered to another thread only runs its Python
    # handler once the main thread executes bytecode again.
    while not stop.wait(0.5):
        pass
    simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
