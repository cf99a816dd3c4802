"""`runbook runs`: one line per run, fitting the terminal (80 columns and up).

Pure: (console, summaries, ids) -> nothing returned. A line reads: when (UTC), who,
runbook (direct commands marked `cmd`), the verdict in a word, and the run's id as short
as it stays unique (what `runbook report`, `verify` and `resume` take); `-o json` has the
full id and the verdict's whole sentence.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from ditsops.core.runs import RunSummary
from ditsops.render.cells import cut, fold
from ditsops.render.lines import Out, line

if TYPE_CHECKING:
    from rich.console import Console

WHEN = 11  # 12-07 21:03
ID_MIN = 16  # the id's timestamp: 20261207T210301Z
GAP = "  "


def short_ids(run_ids: Sequence[str], known: Sequence[str] = ()) -> dict[str, str]:
    """Each id's shortest prefix (at least its timestamp) that no other id has."""
    others = sorted(set(run_ids) | set(known))
    shown: dict[str, str] = {}
    for run_id in run_ids:
        at = bisect_left(others, run_id)
        # the ids sharing the longest prefix with this one sort right beside it
        common = max((_common(run_id, others[i]) for i in (at - 1, at + 1) if 0 <= i < len(others)), default=0)
        shown[run_id] = run_id[: max(ID_MIN, common + 1)]
    return shown


def _common(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def render_runs(
    console: Out | Console, runs: Sequence[RunSummary], *, known: Sequence[str] = (), more: int = 0, where: str = ""
) -> None:
    """known: the ids a shown one's prefix must differ from; more: how many older runs the
    limit left out; where: what was listed (local records, the store). `console`: an Out
    (render/lines.py, what the command uses: no rich to import) or a rich Console."""
    if not runs:
        line(console, ("No runs recorded yet. Walk one with: ditsops runbook NAME" if not where else where, ""))
        return
    ids = short_ids([run.run_id for run in runs], known)
    id_width = max(len(i) for i in ids.values())
    word_width = max(len("verdict"), *(len(run.word) for run in runs))
    room = max(console.width, 80) - WHEN - word_width - id_width - 4 * len(GAP)
    who_width = min(max(len(run.user) for run in runs), max(10, room // 2))
    book_width = max(8, room - who_width)
    names = [("when (UTC)", WHEN), ("who", who_width), ("runbook", book_width), ("verdict", word_width)]
    line(console, (GAP.join([*(name.ljust(width) for name, width in names), "run"]), "bold"))
    for run in runs:
        when = run.started.astimezone(UTC).strftime("%m-%d %H:%M") if run.started else "?"
        book = f"cmd {run.runbook}" if run.direct else run.runbook
        style = "muted" if run.exit_code is None else "ok" if run.exit_code == 0 else "failing"
        line(
            console,
            (when.ljust(WHEN) + GAP, ""),
            (cut(fold(run.user), who_width).ljust(who_width) + GAP, ""),
            (cut(fold(book), book_width).ljust(book_width) + GAP, ""),
            (run.word.ljust(word_width), style),
            (GAP + ids[run.run_id], ""),
        )
    if more:  # -1: some, not counted (the store is not asked to count them all)
        older = "older runs" if more < 0 else f"{more} older"
        line(console, (f"({older} not shown: --limit N or --all)", "muted"))
