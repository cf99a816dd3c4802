"""The anchors of a record: what `runbook verify` checks beyond the record's own chain.

A chain proves only that no line was changed *without recomputing the hashes after it*.
Whoever can write the record file can rewrite it whole, or cut its last lines, and the
chain still holds. So its end is kept where the record's writer cannot rewrite it alone:

- the store: each line's hash must equal the store's event of the same seq, the store's
  own rows must still chain (a row edited by a superuser shows: its hash is no longer its
  line's, or its body no longer its line), and neither side may have more lines;
- the ticket: the last line's SHA-256, printed at the end of the run, given back with
  `--expect-hash`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ditsops.base.errors import UsageError
from ditsops.core.record import genesis_hash, line_hash
from ditsops.store.connection import StoreSession
from ditsops.store.events import body_of, complete_lines, record_run_id
from ditsops.store.schema import SCHEMA

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Anchor:
    kind: Literal["store", "ticket"]
    status: Literal["match", "mismatch", "none"]  # none: no anchor to check against
    summary: str
    events: int = 0  # store: events compared

    @property
    def failed(self) -> bool:
        return self.status == "mismatch"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "events": self.events, "summary": self.summary}


def check_hash(text: str) -> str:
    value = text.strip().lower()
    if not _HEX64.match(value):
        raise UsageError(f"--expect-hash {text[:80]!r}: expected a SHA-256 in hex (64 characters 0-9a-f)")
    return value


def ticket_anchor(path: Path, expected: str) -> Anchor:
    hashes = [line_hash(line) for line in complete_lines(path)]
    if hashes and hashes[-1] == expected:
        return Anchor("ticket", "match", f"anchored by the ticket hash: line {len(hashes)}, the last, matches")
    if expected in hashes:
        at = hashes.index(expected) + 1
        return Anchor(
            "ticket",
            "mismatch",
            f"the ticket hash is line {at}'s, but the record goes on to line {len(hashes)} (lines were added)",
        )
    return Anchor(
        "ticket", "mismatch", "the ticket hash matches no line: the record was rewritten or cut after it was noted"
    )


def _store_problem(run_id: str, rows: list[tuple[Any, ...]]) -> str | None:
    """The first store row that no longer is what was inserted, if any."""
    expected = genesis_hash(run_id)
    for number, (seq, prev, digest, line, body) in enumerate(rows, 1):
        if seq != number:
            return f"the store lacks event {number} (it has {seq} next)"
        if digest != line_hash(line.encode("utf-8")):
            return f"store event {seq}: its hash is not its line's (the row was edited)"
        if prev != expected:
            return f"store event {seq} does not follow event {seq - 1} (a row was edited)"
        try:
            same_body = body == body_of(line)
        except json.JSONDecodeError:
            same_body = False
        if not same_body:
            return f"store event {seq}: its body is not its line (the row was edited)"
        expected = digest
    return None


def store_anchor(session: StoreSession, path: Path, *, running: bool = False) -> Anchor:
    """running: the record's writer is alive, so lines the store has not yet are no fault."""
    lines = complete_lines(path)
    run_id = record_run_id(lines, path)
    rows = session.execute(
        f"SELECT seq, prev, hash, line, body FROM {SCHEMA}.events WHERE run = %s ORDER BY seq", (run_id,)
    ).fetchall()
    if not rows:
        return Anchor(
            "store",
            "none",
            "no anchor: the store has no events of this run (recorded without a store; "
            "ditsops store sync --all sends it, anchoring it from now on)",
        )
    problem = _store_problem(run_id, rows)
    if problem:
        return Anchor("store", "mismatch", f"store anchor broken: {problem}", len(rows))
    local = [line_hash(line) for line in lines]
    for number, (mine, row) in enumerate(zip(local, rows, strict=False), 1):
        if mine != row[2]:
            return Anchor(
                "store",
                "mismatch",
                f"line {number} differs from the store's event {number}: the record was rewritten, "
                "or the store holds another line under this run",
                len(rows),
            )
    if len(rows) > len(local):
        return Anchor(
            "store",
            "mismatch",
            f"the record is cut: the store holds {len(rows)} events, the record {len(local)} lines "
            f"(lines {len(local) + 1}-{len(rows)} are missing here)",
            len(rows),
        )
    if len(local) > len(rows) and running:
        return Anchor(
            "store",
            "match",
            f"anchored in the store: {len(rows)} events match so far; {len(local) - len(rows)} more lines are "
            "on their way (the run is still writing)",
            len(rows),
        )
    if len(local) > len(rows):
        return Anchor(
            "store",
            "mismatch",
            f"lines {len(rows) + 1}-{len(local)} are not in the store (it refused them, or they wait to be synced)",
            len(rows),
        )
    return Anchor("store", "match", f"anchored in the store: {len(rows)} events match", len(rows))
