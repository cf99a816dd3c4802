"""The Dits server's log lines in the sandbox, written into the dits-server pods.

What an engineer greps for in a real incident must be there in the practice one:

- a bad image deployed (bad-deploy): ERROR lines a few a second, each naming the bug of the
  release (a panic, an unknown field, a missing column) and the version;
- error-spike (no deploy involved): ERROR lines as often, naming a server stuck in a bad
  state (a poisoned cache, stale pooled connections): what the restart branch of the
  high-error-rate runbook says and what a restart ends;
- large-upload: the spec's `Push commit started` line (repo_id, user_id, request_id) when
  the push begins and `Push commit completed` when it ends, which the large-upload
  runbook's log step shows to find who is uploading;
- otherwise an INFO request line now and then.

`KubeLogWriter` appends them through the sandbox-only logs endpoint of the Kubernetes API
(kubesource.KubeHTTP), so `ditsops k8s logs --grep ERROR` and kubectl find them.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ditsops.sandbox.kubesource import DEPLOYMENT, NAMESPACE, KubeError, KubeHTTP


@dataclass(frozen=True)
class ServerState:
    """What the simulated server is going through right now."""

    version: str
    bad_image: bool = False  # the release bad-deploy ships is running
    faults: frozenset[str] = frozenset()  # the simulator's faults in effect


# (method, path, what the release gets wrong): the bugs of the bad release.
_BAD_RELEASE = (
    (
        "POST",
        "/api/v1/repos/:id/commits",
        "panicked at 'called `Option::unwrap()` on a `None` value', src/repo/commit.rs:212:41",
    ),
    ("PUT", "/api/v1/chunks/:hash", "chunk manifest decode failed: unknown field `compression_v2`"),
    ("GET", "/api/v1/repos/:id/commits", "query failed: column commits.parent_ids does not exist"),
    ("GET", "/api/v1/chunks/:hash", "internal error: index out of bounds: the len is 4 but the index is 4"),
)
# A server stuck in a bad state that fresh pods would not have (no release involved).
_STUCK = (
    ("GET", "/api/v1/chunks/:hash", "chunk cache entry corrupt: checksum mismatch, entry not evicted (poisoned cache)"),
    (
        "PUT",
        "/api/v1/chunks/:hash",
        "stale pooled connection: broken pipe (os error 32); the pool does not reconnect it",
    ),
    (
        "GET",
        "/api/v1/repos/:id/commits",
        "commit cache entry corrupt: checksum mismatch, entry not evicted (poisoned cache)",
    ),
    ("POST", "/api/v1/repos/:id/commits", "stale pooled connection: connection reset by peer; not reconnected"),
)
_INFOS = (
    ("GET", "/api/v1/chunks/:hash", 200),
    ("PUT", "/api/v1/chunks/:hash", 201),
    ("GET", "/api/v1/repos/:id/commits", 200),
    ("GET", "/api/v1/repos/:id", 304),
)
ERROR_FAULT = "error-spike"
UPLOAD_FAULT = "large-upload"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _request_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(48):012x}"


def log_lines(state: ServerState, count: int, rng: random.Random) -> list[str]:
    """`count` request lines for `state`: ERROR lines naming the cause while requests fail
    (the release's bugs win over a stuck state: its image is what the simulator fails for),
    INFO lines otherwise."""
    now, lines = _now(), []
    failing = _BAD_RELEASE if state.bad_image else _STUCK if ERROR_FAULT in state.faults else None
    for _ in range(count):
        if failing:
            method, path, error = rng.choice(failing)
            lines.append(
                f"{now} ERROR dits_server::api: {method} {path} -> 500 Internal Server Error: "
                f"{error} request_id={_request_id(rng)} version={state.version}"
            )
        else:
            method, path, status = rng.choice(_INFOS)
            lines.append(
                f"{now} INFO dits_server::api: {method} {path} -> {status} in {rng.randint(2, 40)}ms "
                f"request_id={_request_id(rng)} version={state.version}"
            )
    return lines


@dataclass(frozen=True)
class Push:
    """The push large-upload plays: who and where, as its log lines say."""

    repo_id: str
    user_id: str
    request_id: str

    @classmethod
    def new(cls, rng: random.Random) -> Push:
        repo_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return cls(repo_id, f"user-{rng.randint(100, 9999)}", _request_id(rng))

    def fields(self, version: str) -> str:
        return f"repo_id={self.repo_id} user_id={self.user_id} request_id={self.request_id} version={version}"

    def started(self, version: str) -> str:
        return f"{_now()} INFO dits_server::api::commits: Push commit started {self.fields(version)}"

    def completed(self, version: str, rng: random.Random) -> str:
        return (
            f"{_now()} INFO dits_server::api::commits: Push commit completed "
            f"commit_hash={rng.getrandbits(160):040x} chunks_uploaded={rng.randint(2_000_000, 2_600_000)} "
            f"{self.fields(version)}"
        )


class KubeLogWriter:
    """Writes the server's log lines into its pods while the simulator runs.

    `state()` answers what the server goes through now; a failing server gets
    `error_lines` ERROR lines per `interval`, a healthy one an INFO line every few
    intervals, and a push starting or ending its line once.
    """

    def __init__(
        self,
        api_url: str,
        state: Callable[[], ServerState],
        namespace: str = NAMESPACE,
        selector: str = f"app={DEPLOYMENT}",
        interval: float = 0.5,
        error_lines: int = 2,
        info_every: int = 4,
        seed: int | None = None,
    ) -> None:
        self.client = KubeHTTP(api_url)
        self.state, self.namespace, self.selector = state, namespace, selector
        self.interval, self.error_lines, self.info_every = interval, error_lines, info_every
        self.rng = random.Random(seed)
        self.push: Push | None = None  # the large upload in progress, once its start is written
        self._stopping = threading.Event()
        self._ticks = 0

    def start(self) -> KubeLogWriter:
        threading.Thread(target=self._loop, name="dits-sim-kube-logs", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def write_once(self) -> int:
        state = self.state()
        self._ticks += 1
        lines: list[str] = []
        push = self.push
        if UPLOAD_FAULT in state.faults and push is None:
            push = Push.new(self.rng)
            lines.append(push.started(state.version))
        elif UPLOAD_FAULT not in state.faults and push is not None:
            lines.append(push.completed(state.version, self.rng))
            push = None
        failing = state.bad_image or ERROR_FAULT in state.faults
        count = self.error_lines if failing else 1 if self._ticks % self.info_every == 0 else 0
        lines += log_lines(state, count, self.rng)
        if not lines:
            return 0
        try:
            self.client.append_logs(lines, self.selector, self.namespace)
        except KubeError:
            return 0  # the API is restarting or gone; the next tick tries again (the push's line too)
        self.push = push
        return len(lines)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            self.write_once()
