"""The simulated server's numbers that only the dashboards read (dashboards/*.json).

The spec's dashboards use metrics its metric list never defines: `dits_active_sessions`,
`dits_db_slow_query_duration_seconds` and a `tier` label on `dits_chunks_size_bytes`
(see the note atop runbooks/alerts/dits.rules.yml). No alert reads them, so they may move
under any fault without making another alert fire: sessions follow traffic, slow queries
slow down while the pool is exhausted, and the tiers split the stored bytes.
"""

from __future__ import annotations

import random

from ditsops.sandbox.metrics import Exposition

TIER_SHARES = (("hot", 0.17), ("warm", 0.31), ("cold", 0.52))  # of the stored bytes; new chunks land hot
SESSIONS_PER_RPS = 4.5  # client sessions active per request per second
SLOW_DB_FACTOR = 7.0  # under db-exhaustion a query first waits for a pooled connection
SLOW_QUERIES = (  # query fingerprint -> its usual slowest run over 100 ms, in seconds
    ("SELECT ... FROM chunks WHERE repo_id = $1 AND hash = ANY($2)", 0.34),
    ("SELECT ... FROM commits WHERE repo_id = $1 ORDER BY created_at DESC LIMIT $2", 0.21),
    ("UPDATE locks SET released_at = now() WHERE id = $1", 0.15),
    ("INSERT INTO chunk_refs (commit_id, chunk_hash) SELECT ...", 0.48),
    ("SELECT count(*) FROM chunk_refs WHERE chunk_hash = $1", 0.27),
    ("DELETE FROM chunks WHERE id = ANY($1) AND refcount = 0", 0.62),
    ("SELECT ... FROM repos JOIN members USING (repo_id) WHERE user_id = $1", 0.12),
    ("UPDATE repos SET size_bytes = size_bytes + $1 WHERE id = $2", 0.18),
    ("SELECT ... FROM sessions WHERE token_hash = $1", 0.11),
    ("SELECT ... FROM chunks WHERE tier = $1 AND last_access < $2 LIMIT $3", 0.95),
    ("INSERT INTO audit_log (actor, action, target, at) VALUES (...)", 0.13),
    ("SELECT pg_advisory_xact_lock($1)", 0.22),
)


class _Drift:
    """A bounded random walk (simmodel.Walk's twin, kept here to avoid an import cycle)."""

    def __init__(self, rng: random.Random, low: float, high: float, step: float) -> None:
        self.rng, self.low, self.high, self.step = rng, low, high, step
        self.value = rng.uniform(low, high)

    def move(self, dt: float) -> None:
        self.value += self.rng.gauss(0.0, self.step * max(dt, 0.0) ** 0.5)
        self.value = min(self.high, max(self.low, self.value))


class DashboardNumbers:
    """Moved by DitsModel.advance (under its lock) and rendered with its exposition."""

    def __init__(self, rng: random.Random) -> None:
        self.hot_share = _Drift(rng, 0.15, 0.19, 0.001)
        self.sessions = _Drift(rng, 0.9, 1.1, 0.02)
        self.slow = [(query, _Drift(rng, 0.7 * usual, 1.3 * usual, 0.02 * usual)) for query, usual in SLOW_QUERIES]

    def advance(self, dt: float) -> None:
        for drift in (self.hot_share, self.sessions, *(walk for _, walk in self.slow)):
            drift.move(dt)

    def tier_bytes(self, total: float) -> list[tuple[str, float]]:
        """`total` stored bytes split by tier; the parts add up to the total."""
        hot = self.hot_share.value
        others = sum(share for tier, share in TIER_SHARES if tier != "hot")
        return [
            (tier, float(round(total * (hot if tier == "hot" else share * (1.0 - hot) / others))))
            for tier, share in TIER_SHARES
        ]

    def active_sessions(self, requests_per_second: float) -> float:
        return float(round(requests_per_second * SESSIONS_PER_RPS * self.sessions.value))

    def slow_queries(self, faults: frozenset[str]) -> list[tuple[str, float]]:
        factor = SLOW_DB_FACTOR if "db-exhaustion" in faults else 1.0
        return [(query, round(walk.value * factor, 3)) for query, walk in self.slow]

    def render(self, out: Exposition, requests_per_second: float, faults: frozenset[str]) -> None:
        out.gauge(
            "dits_active_sessions",
            "Client sessions active in the last 5 minutes",
            [(None, self.active_sessions(requests_per_second))],
        )
        out.gauge(
            "dits_db_slow_query_duration_seconds",
            "Slowest run in the last minute of each query slower than 100 ms, by query fingerprint",
            (({"query": query}, seconds) for query, seconds in self.slow_queries(faults)),
        )
