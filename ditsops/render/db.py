"""Views of PostgreSQL diagnostics. Pure: typed values in, console output, nothing returned."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from ditsops.core.db import Activity, Backend, BlockingNode, blocked_count, waiters_of
from ditsops.core.results import Table
from ditsops.render.cells import cell, cut, fold
from ditsops.render.console import UNBOUNDED, print_at, unbounded
from ditsops.render.tables import render_table


def _age(seconds: float | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def backends_table(backends: list[Backend], *, age: str = "query") -> Table:
    """age: which clock to show — 'query' (running time), 'state' (time in current state) or
    'current' (each session's Backend.age: run time if active, else time in its state)."""
    clock = {"query": lambda b: b.query_age, "state": lambda b: b.state_age, "current": lambda b: b.age}[age]
    rows = [
        (
            b.pid,
            b.user,
            b.application,
            b.database,
            b.state,
            _age(clock(b)),
            b.waiting,
            b.query,
        )
        for b in backends
    ]
    label = {"query": "running", "state": "in state", "current": "age"}[age]
    return Table(("pid", "user", "application", "database", "state", label, "waiting", "query"), rows)


def render_activity(console: Console, activity: Activity, *, full: bool = False) -> None:
    """The header counts every client backend against max_connections, ditsops' own
    session included (it holds a slot too); the table says the same: its states are the
    other sessions, then this session, then the same total. With a filter the table counts
    only the matching sessions and says so."""
    pct = activity.percent_used
    style = "failing" if pct > 90 else "warning" if pct > 80 else "ok"
    scope = ", ".join(f"{k}={v}" for k, v in activity.filters.items())
    console.print(
        f"[title]Connections[/] [{style}]{activity.cluster_total}/{activity.max_connections} ({pct:.1f}%)[/] "
        "in use, this ditsops session included"
    )
    console.print(
        f"[muted]PostgreSQL {activity.server_version}, {activity.superuser_reserved} reserved for superusers[/]"
    )
    rows: list[tuple[str, int]] = [
        (state, count) for state, count in activity.counts.items() if count or state != "unknown"
    ]
    if scope:
        rows.append((f"total ({scope})", activity.total))
    else:
        rows.append(("this ditsops session", activity.this_session))
        rows.append(("total", activity.total + activity.this_session))
    rows.append(("of which waiting on a lock", activity.waiting_on_lock))
    render_table(console, Table(("state", "connections"), rows))
    console.print()
    if activity.longest:
        render_table(
            console, backends_table(activity.longest, age="current"), full=full, title="Longest non-idle sessions"
        )
    else:
        console.print("[muted]No non-idle queries.[/]")


def render_backends(
    console: Console, backends: list[Backend], *, title: str, empty: str, full: bool = False, age: str = "query"
) -> None:
    if not backends:
        console.print(f"[ok]{empty}[/]")
        return
    render_table(console, backends_table(backends, age=age), full=full, title=f"{title} ({len(backends)})")


def _label(backend: Backend, width: int | None, full: bool, depth: int = 0) -> Text:
    """pid, user/application, state and age whole; the query cut to what is left of the
    line after the tree's indent (4 columns a level; width None: whole)."""
    waiting = f" waiting for {backend.waiting_for}" if backend.waiting_for else ""
    also = f" (blocked by {', '.join(map(str, backend.blocked_by))})" if len(backend.blocked_by) > 1 else ""
    head = (
        f"pid {backend.pid} {backend.user or ''}/{backend.application or '-'} {backend.state or ''} "
        f"{cell(_age(backend.age))}{waiting}{also}: "
    )
    query = fold(backend.query)
    room = max(width - 4 * depth - len(head), 20) if width is not None else 0
    return Text(head + (query if full or width is None else cut(query, room)))


def render_blocking(console: Console, forest: list[BlockingNode], *, full: bool = False) -> None:
    """Each session waiting on a lock once, under the blocker nearest it in the queue; the
    count is pg_blocking_pids' (sessions it names a blocker for)."""
    if not forest:
        console.print("[ok]No session is waiting on a lock.[/]")
        return
    blocked = blocked_count(forest)
    roots = sum(1 for node in forest if not node.backend.blocked_by)
    console.print(
        f"[title]{blocked} blocked session{'s' if blocked != 1 else ''} "
        f"behind {roots} blocker{'s' if roots != 1 else ''}[/]"
    )
    width = None if unbounded(console) else console.width
    named = waiters_of(forest)  # every waiter naming each pid in pg_blocking_pids

    def add(tree: Tree, node: BlockingNode, depth: int) -> None:
        for child in node.blocks:
            add(tree.add(_label(child.backend, width, full, depth)), child, depth + 1)

    for root in forest:
        label = _label(root.backend, width, full)
        if not root.backend.blocked_by:
            label.stylize("failing")
        tree = Tree(label)
        add(tree, root, 1)
        if not root.blocks and named.get(root.backend.pid):  # a second holder: its waiters sit elsewhere
            waiters = ", ".join(map(str, named[root.backend.pid]))
            tree.add(Text(f"also blocks {waiters} (listed under another blocker)", style="muted"))
        if width is None:  # a pipe: every label whole on its line
            print_at(console, tree, UNBOUNDED)
        else:
            console.print(tree)
