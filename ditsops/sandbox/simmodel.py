"""What the simulated Dits server is doing: traffic, pools, locks, GC, disk and memory.

A background thread calls `DitsModel.advance(now, faults)` every ~0.25 s; counters grow by
rate x elapsed time (fractions kept, floored on output), so Prometheus sees smooth real-
time rates whatever its scrape interval, and a scrape never moves anything. Gauges follow
slow waves and bounded random walks. Each fault changes only the numbers its alert
reads, by a wide margin, so that exactly that alert fires.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ditsops.sandbox.metrics import Exposition, Histogram
from ditsops.sandbox.simdash import DashboardNumbers

HTTP_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
TRANSFER_BUCKETS = (1e6, 5e6, 10e6, 50e6, 100e6, 500e6, 1e9)
DB_QUERY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
GC_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)

BASE_REQUESTS_PER_SECOND = 40.0
TRAFFIC_SPIKE_FACTOR = 10.0  # UnusualTrafficSpike needs 2x the average; 10x fires fast
BASE_ERROR_SHARE = 0.004  # a trickle of 500s on API routes
SPIKE_ERROR_SHARE = 0.15  # HighErrorRate fires over 5%
SLOW_SHARE = 0.2  # under the latency fault; p99 lands in the (5, 10] bucket
CHUNK_BYTES = 2.5 * 2**20
DB_POOL_MAX = 50  # without DATABASE_POOL_SIZE; the pool gauges below are drawn for this size
EXHAUSTED_SHARES = (0.94, 0.96, 0.98)  # of the pool, under db-exhaustion
GC_PERIOD_SECONDS = 90.0  # short, so the GC counters visibly move in the sandbox
TWO_DAYS = 2 * 86400.0
HISTORY_SECONDS = 3 * 86400.0  # counters start as if the server had run for three days
LARGE_UPLOAD_BYTES_PER_SECOND = 4.2e8  # the 150 GB push of large-upload, on top of normal traffic

DATA_FS = {"device": "/dev/nvme1n1", "fstype": "xfs", "mountpoint": "/data"}
DATA_FS_SIZE = 16 * 2**40
MEM_TOTAL = 64 * 2**30


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    share: float  # of all requests
    statuses: tuple[tuple[str, float], ...]  # outcome mix without the 500s, sums to 1
    median_seconds: float
    api: bool = True  # /health is probes, not API traffic: error and latency faults spare it


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/chunks/:hash", 0.38, (("200", 0.87), ("304", 0.11), ("404", 0.02)), 0.012),
    Route("PUT", "/api/v1/chunks/:hash", 0.14, (("201", 0.97), ("200", 0.03)), 0.045),
    Route("GET", "/api/v1/repos/:id/commits", 0.16, (("200", 0.92), ("304", 0.06), ("404", 0.02)), 0.02),
    Route("POST", "/api/v1/repos/:id/commits", 0.05, (("201", 0.97), ("404", 0.03)), 0.09),
    Route("GET", "/api/v1/repos/:id", 0.12, (("200", 0.9), ("304", 0.08), ("404", 0.02)), 0.008),
    Route("GET", "/api/v1/repos", 0.03, (("200", 1.0),), 0.03),
    Route("POST", "/api/v1/repos/:id/locks", 0.04, (("201", 0.96), ("404", 0.04)), 0.015),
    Route("GET", "/health", 0.08, (("200", 1.0),), 0.002, api=False),
)
HTTP_SIGMA = 0.9


def lognormal_cdf(median: float, sigma: float) -> Callable[[float], float]:
    def cdf(x: float) -> float:
        if x <= 0:
            return 0.0
        return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))

    return cdf


def lognormal_mean(median: float, sigma: float) -> float:
    return median * math.exp(sigma * sigma / 2.0)


def wave(now: float, period: float, amplitude: float, phase: float = 0.0) -> float:
    """1 +- amplitude, one cycle per period: the slow daily-like swing of a busy service."""
    return 1.0 + amplitude * math.sin(2.0 * math.pi * now / period + phase)


class Walk:
    """A bounded random walk, for gauges that drift but should not jump."""

    def __init__(self, rng: random.Random, low: float, high: float, step: float) -> None:
        self.rng, self.low, self.high, self.step = rng, low, high, step
        self.value = rng.uniform(low, high)

    def move(self, dt: float) -> float:
        self.value += self.rng.gauss(0.0, self.step * math.sqrt(max(dt, 0.0)))
        self.value = min(self.high, max(self.low, self.value))
        return self.value


class DitsModel:
    """The simulated server's state; `advance` and `render` are safe to call from threads."""

    def __init__(self, now: float, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self.rng = rng or random.Random()
        self.now = now
        self.faults: frozenset[str] = frozenset()
        self.pool_max = DB_POOL_MAX  # the server's DATABASE_POOL_SIZE (set_pool_max)
        self.exhausted_pool: int | None = None  # the pool's size when db-exhaustion began
        base = BASE_REQUESTS_PER_SECOND * HISTORY_SECONDS
        self.requests: dict[tuple[str, str, str], float] = {}
        self.durations: dict[tuple[str, str], Histogram] = {}
        for route in ROUTES:
            for status, share in self._status_mix(route, frozenset()):
                self.requests[(route.method, route.path, status)] = base * route.share * share
            history = Histogram(HTTP_BUCKETS)
            history.observe_distribution(base * route.share, *self._latency(route, frozenset()))
            self.durations[(route.method, route.path)] = history
        self.in_flight = 0.0
        self.repositories = 1284.0
        self.commits = base * 0.05 * 0.97
        self.chunk_uploads = base * 0.14
        self.chunk_downloads = base * 0.38 * 0.87
        self.chunks_stored = 48_213_377.0
        self.transfer_speed = Histogram(TRANSFER_BUCKETS)
        self.transfer_speed.observe_distribution(
            self.chunk_uploads + self.chunk_downloads, lognormal_cdf(60e6, 0.9), lognormal_mean(60e6, 0.9)
        )
        self.locks_active = Walk(self.rng, 3, 14, 1.5)
        self.lock_acquisitions = base * 0.1
        self.lock_contentions = base * 0.008
        self.db_active = Walk(self.rng, 8, 16, 2.0)
        self.db_query = Histogram(DB_QUERY_BUCKETS)
        self.db_query.observe_distribution(base * 2.5, lognormal_cdf(0.003, 0.9), lognormal_mean(0.003, 0.9))
        self.db_active_now, self.db_idle_now = self._db_connections(frozenset())
        self.gc_runs = 3 * 86400 / 3600.0  # runs started (the spec's "Total GC runs"): hourly in production
        self.gc_chunks_deleted = 1_250_000.0
        self.gc_bytes_reclaimed = self.gc_chunks_deleted * CHUNK_BYTES
        self.gc_duration = Histogram(GC_BUCKETS)
        self.gc_duration.observe_distribution(self.gc_runs, lognormal_cdf(20.0, 0.5), lognormal_mean(20.0, 0.5))
        self.gc_last_run = now - self.rng.uniform(0.0, GC_PERIOD_SECONDS)  # the last run completed
        self.gc_last_start = self.gc_last_run  # the last run started, completed or not
        self.gc_stalled_since: float | None = None
        self.upload_size = Walk(self.rng, 3e8, 12e9, 4e8)
        self.disk_free_share = Walk(self.rng, 0.33, 0.42, 0.000001)  # ~5 GB a day: hours-left stays calm
        self.mem_available_share = Walk(self.rng, 0.38, 0.5, 0.01)
        self.bytes_uploaded = self.chunk_uploads * CHUNK_BYTES  # with large-upload's push on top
        self.dashboard = DashboardNumbers(self.rng)  # created last: the other walks keep their seeds

    # ------------------------------------------------------------------ behaviour
    @staticmethod
    def _status_mix(route: Route, faults: frozenset[str]) -> list[tuple[str, float]]:
        if not route.api:
            return list(route.statuses)
        errors = SPIKE_ERROR_SHARE if "error-spike" in faults else BASE_ERROR_SHARE
        return [(status, share * (1.0 - errors)) for status, share in route.statuses] + [("500", errors)]

    @staticmethod
    def _latency(route: Route, faults: frozenset[str]) -> tuple[Callable[[float], float], float]:
        """(CDF, mean) of the route's request duration."""
        normal_cdf = lognormal_cdf(route.median_seconds, HTTP_SIGMA)
        normal_mean = lognormal_mean(route.median_seconds, HTTP_SIGMA)
        if not (route.api and "latency" in faults):
            return normal_cdf, normal_mean
        # A slow dependency: a fifth of API requests wait 5-10 s (median 7 s).
        slow_cdf = lognormal_cdf(7.0, 0.15)

        def mixed(x: float) -> float:
            return (1.0 - SLOW_SHARE) * normal_cdf(x) + SLOW_SHARE * slow_cdf(x)

        return mixed, (1.0 - SLOW_SHARE) * normal_mean + SLOW_SHARE * lognormal_mean(7.0, 0.15)

    def request_rate(self, now: float, faults: frozenset[str]) -> float:
        spike = TRAFFIC_SPIKE_FACTOR if "traffic-spike" in faults else 1.0
        return BASE_REQUESTS_PER_SECOND * spike * wave(now, 600.0, 0.06)

    def advance(self, now: float, faults: frozenset[str]) -> None:
        """Move everything forward to `now` under the given faults."""
        with self._lock:
            dt = max(0.0, now - self.now)
            self.now = now
            self._apply_fault_edges(now, faults)
            self.faults = faults
            self._advance_http(now, dt, faults)
            self._advance_storage(dt, faults)
            self._advance_locks_and_db(now, dt, faults)
            self._advance_gc(now)
            self.upload_size.move(dt)
            self.disk_free_share.move(dt)
            self.mem_available_share.move(dt)
            self.dashboard.advance(dt)

    def set_pool_max(self, size: int) -> None:
        """The pool size the server runs with (its DATABASE_POOL_SIZE)."""
        with self._lock:
            self.pool_max = max(1, int(size))

    def _apply_fault_edges(self, now: float, faults: frozenset[str]) -> None:
        if "db-exhaustion" in faults and self.exhausted_pool is None:
            self.exhausted_pool = self.pool_max  # what the hung sessions hold: a bigger pool has room
        elif "db-exhaustion" not in faults:
            self.exhausted_pool = None
        if "gc-stalled" in faults and self.gc_stalled_since is None:
            self.gc_stalled_since = now
        elif "gc-stalled" not in faults and self.gc_stalled_since is not None:
            self.gc_stalled_since = None
            self._run_gc(now)  # the operator unstuck it: a run happens at once

    def _advance_http(self, now: float, dt: float, faults: frozenset[str]) -> None:
        total = self.request_rate(now, faults) * dt
        in_flight = 0.0
        for route in ROUTES:
            count = total * route.share
            for status, share in self._status_mix(route, faults):
                self.requests[(route.method, route.path, status)] += count * share
            cdf, mean = self._latency(route, faults)
            self.durations[(route.method, route.path)].observe_distribution(count, cdf, mean)
            in_flight += count / dt * mean if dt > 0 else 0.0  # Little's law
        self.in_flight = max(0.0, round(in_flight * self.rng.uniform(0.8, 1.2)))

    def _advance_storage(self, dt: float, faults: frozenset[str]) -> None:
        rate = self.request_rate(self.now, faults) * dt
        uploads = rate * 0.14
        downloads = rate * 0.38 * 0.87
        self.commits += rate * 0.05 * 0.97
        self.repositories += 0.002 * dt
        self.chunk_uploads += uploads
        self.chunk_downloads += downloads
        self.bytes_uploaded += uploads * CHUNK_BYTES
        self.chunks_stored += uploads * 0.37  # the rest deduplicated away
        speed_cdf = lognormal_cdf(60e6, 0.9)
        self.transfer_speed.observe_distribution(uploads + downloads, speed_cdf, lognormal_mean(60e6, 0.9))
        if "large-upload" in faults:  # one client pushing flat out: many bytes, at a high speed
            self.bytes_uploaded += LARGE_UPLOAD_BYTES_PER_SECOND * dt
            pushed = LARGE_UPLOAD_BYTES_PER_SECOND * dt / CHUNK_BYTES
            self.transfer_speed.observe_distribution(pushed, lognormal_cdf(4e8, 0.2), lognormal_mean(4e8, 0.2))

    def _advance_locks_and_db(self, now: float, dt: float, faults: frozenset[str]) -> None:
        traffic = self.request_rate(now, faults) / BASE_REQUESTS_PER_SECOND
        self.lock_acquisitions += 4.0 * traffic * dt
        # Normal contention is ~8% of acquisitions: 0.3/s, 3/s even in a 10x traffic spike.
        contentions = 40.0 if "lock-contention" in faults else 0.32 * traffic
        self.lock_contentions += contentions * dt
        self.lock_acquisitions += (40.0 if "lock-contention" in faults else 0.0) * dt
        self.locks_active.move(dt)
        self.db_active.move(dt)
        self.db_active_now, self.db_idle_now = self._db_connections(faults)
        slow_db = "db-exhaustion" in faults
        queries = self.request_rate(now, faults) * 2.5 * dt
        median = 0.04 if slow_db else 0.003  # waiting for a pooled connection
        self.db_query.observe_distribution(queries, lognormal_cdf(median, 0.9), lognormal_mean(median, 0.9))

    def _advance_gc(self, now: float) -> None:
        """The schedule starts a run every period. Stalled, each run it starts fails before
        finishing: dits_gc_runs_total (runs started) moves on while nothing is deleted and the
        last completed run stays two days old, so "runs started in the last day" beside "last
        completed 2 days ago" tells one consistent story (runs start and fail)."""
        if now - self.gc_last_start < GC_PERIOD_SECONDS:
            return
        if self.gc_stalled_since is None:
            self._run_gc(now)
        else:
            self.gc_runs += 1
            self.gc_last_start = now

    def _run_gc(self, now: float) -> None:
        deleted = self.rng.randint(200, 900)
        self.gc_runs += 1
        self.gc_chunks_deleted += deleted
        self.gc_bytes_reclaimed += deleted * CHUNK_BYTES * self.rng.uniform(0.6, 1.4)
        self.gc_duration.observe(self.rng.uniform(8.0, 45.0))
        self.chunks_stored = max(0.0, self.chunks_stored - deleted)
        self.gc_last_run = self.gc_last_start = now

    def _db_connections(self, faults: frozenset[str]) -> tuple[float, float]:
        """(active, idle) of the pool of `pool_max` connections (the numbers are drawn for
        DB_POOL_MAX and scaled, so every share of the pool stays what it was)."""
        if "db-exhaustion" in faults:
            # 94-98% of the pool the exhaustion began with: raising the pool size lowers the share.
            held = round(self.rng.choice(EXHAUSTED_SHARES) * (self.exhausted_pool or self.pool_max))
            active = float(min(self.pool_max, held))
            return active, self.pool_max - active
        traffic = self.request_rate(self.now, faults) / BASE_REQUESTS_PER_SECOND
        scale = self.pool_max / DB_POOL_MAX
        # A spike adds connections sub-linearly: 10x traffic stays near 80% of max.
        active = min(40, round(self.db_active.value * math.sqrt(traffic)))
        return float(round(active * scale)), float(round(max(2, 20 - active) * scale))

    # ------------------------------------------------------------------ derived gauges

    def gc_last_run_timestamp(self) -> float:
        if self.gc_stalled_since is not None:
            return self.gc_stalled_since - TWO_DAYS
        return self.gc_last_run

    def upload_size_bytes(self) -> float:
        return 150e9 if "large-upload" in self.faults else round(self.upload_size.value)

    def disk_avail_bytes(self) -> float:
        share = 0.06 if "disk-low" in self.faults else self.disk_free_share.value
        return float(round(DATA_FS_SIZE * share, -6))

    def mem_available_bytes(self) -> float:
        share = 0.05 if "memory-high" in self.faults else self.mem_available_share.value
        return float(round(MEM_TOTAL * share, -3))

    # ------------------------------------------------------------------ exposition
    def render(self) -> str:
        with self._lock:
            return self._render()

    def _render(self) -> str:
        out = Exposition()
        out.counter(
            "dits_http_requests_total",
            "Total HTTP requests",
            (({"method": m, "path": p, "status": s}, v) for (m, p, s), v in sorted(self.requests.items())),
        )
        out.histogram(
            "dits_http_request_duration_seconds",
            "HTTP request duration in seconds",
            (({"method": m, "path": p}, h) for (m, p), h in sorted(self.durations.items())),
        )
        out.gauge("dits_http_requests_in_flight", "Current HTTP requests being processed", [(None, self.in_flight)])
        out.gauge("dits_repositories_total", "Total number of repositories", [(None, math.floor(self.repositories))])
        out.counter("dits_commits_total", "Total commits across all repos", [(None, self.commits)])
        out.gauge("dits_chunks_stored", "Total chunks in storage", [(None, math.floor(self.chunks_stored))])
        size = math.floor(self.chunks_stored) * CHUNK_BYTES
        tiers = self.dashboard.tier_bytes(size)
        out.gauge(
            "dits_chunks_size_bytes",
            "Total size of stored chunks, by storage tier",
            [({"tier": t}, b) for t, b in tiers],
        )
        out.counter("dits_chunk_uploads_total", "Total chunk uploads", [(None, self.chunk_uploads)])
        out.counter("dits_chunk_downloads_total", "Total chunk downloads", [(None, self.chunk_downloads)])
        ratio = round(2.7 * wave(self.now, 900.0, 0.02), 3)
        out.gauge("dits_deduplication_ratio", "Current deduplication ratio", [(None, ratio)])
        out.counter("dits_bytes_uploaded_total", "Total bytes uploaded", [(None, self.bytes_uploaded)])
        out.counter(
            "dits_bytes_downloaded_total", "Total bytes downloaded", [(None, self.chunk_downloads * CHUNK_BYTES)]
        )
        out.histogram(
            "dits_transfer_speed_bytes_per_second", "Transfer speed in bytes per second", [(None, self.transfer_speed)]
        )
        locks = 60.0 if "lock-contention" in self.faults else round(self.locks_active.value)
        out.gauge("dits_locks_active", "Currently active locks", [(None, locks)])
        out.counter("dits_lock_acquisitions_total", "Total lock acquisitions", [(None, self.lock_acquisitions)])
        out.counter("dits_lock_contentions_total", "Lock contention events", [(None, self.lock_contentions)])
        out.gauge("dits_db_connections_active", "Active database connections", [(None, self.db_active_now)])
        out.gauge("dits_db_connections_idle", "Idle database connections in the pool", [(None, self.db_idle_now)])
        out.gauge("dits_db_connections_max", "Maximum size of the database connection pool", [(None, self.pool_max)])
        out.histogram("dits_db_query_duration_seconds", "Database query duration", [(None, self.db_query)])
        self.dashboard.render(out, self.request_rate(self.now, self.faults), self.faults)
        out.counter("dits_gc_runs_total", "Total GC runs", [(None, self.gc_runs)])
        out.counter("dits_gc_chunks_deleted_total", "Chunks deleted by GC", [(None, self.gc_chunks_deleted)])
        out.counter("dits_gc_bytes_reclaimed_total", "Bytes reclaimed by GC", [(None, self.gc_bytes_reclaimed)])
        out.histogram("dits_gc_duration_seconds", "GC run duration", [(None, self.gc_duration)])
        out.gauge(
            "dits_gc_last_run_timestamp",
            "Unix time the last GC run finished",
            [(None, round(self.gc_last_run_timestamp(), 3))],
        )
        out.gauge(
            "dits_upload_size_bytes", "Size of the largest upload in progress", [(None, self.upload_size_bytes())]
        )
        out.gauge(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            [(DATA_FS, self.disk_avail_bytes())],
        )
        out.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", [(DATA_FS, float(DATA_FS_SIZE))])
        out.gauge("node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.", [(None, float(MEM_TOTAL))])
        out.gauge(
            "node_memory_MemAvailable_bytes",
            "Memory information field MemAvailable_bytes.",
            [(None, self.mem_available_bytes())],
        )
        return out.text()
