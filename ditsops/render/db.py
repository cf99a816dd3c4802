"""Views of PostgreSQL diagnostics. Pure: typed values in, console output, nothing returned."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from rich.tree import Tree

from ditsops.core.db import Activity, Backend, BlockingNode
from ditsops.core.results import Table
from ditsops.render.cells import cell, cut, fold
from ditsops.render.tables import render_table


def _age(seconds: float | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def backends_table(backends: list[Backend], *, age: str = "query") -> Table:
    """age: which clock to show — 'query' (running time) or 'state' (time in current state)."""
    rows = [
        (
            b.pid,
            b.user,
            b.application,
            b.database,
            b.state,
            _age(b.query_age if age == "query" else b.state_age),
            b.waiting,
            b.query,
        )
        for b in backends
    ]
    label = "running" if age == "query" else "in state"
    return Table(("pid", "user", "application", "database", "state", label, "waiting", "query"), rows)


def render_activity(console: Console, activity: Activity, *, full: bool = False) -> None:
    pct = activity.percent_used
    style = "failing" if pct > 90 else "warning" if pct > 80 else "ok"
    scope = f" [muted]({', '.join(f'{k}={v}' for k, v in activity.filters.items())})[/]" if activity.filters else ""
    console.print(
        f"[title]Connections[/] [{style}]{activity.cluster_total}/{activity.max_connections} ({pct:.1f}%)[/] "
        f"[muted]PostgreSQL {activity.server_version}, {activity.superuser_reserved} reserved for superusers; "
        f"this session counted in the total, not below[/]{scope}"
    )
    rows = [(state, count) for state, count in activity.counts.items() if count or state != "unknown"]
    rows.append(("waiting on a lock", activity.waiting_on_lock))
    rows.append(("total", activity.total))
    render_table(console, Table(("state", "connections"), rows))
    console.print()
    if activity.longest:
        render_table(console, backends_table(activity.longest), full=full, title="Longest-running non-idle queries")
    else:
        console.print("[muted]No non-idle queries.[/]")


def render_backends(
    console: Console, backends: list[Backend], *, title: str, empty: str, full: bool = False, age: str = "query"
) -> None:
    if not backends:
        console.print(f"[ok]{empty}[/]")
        return
    render_table(console, backends_table(backends, age=age), full=full, title=f"{title} ({len(backends)})")


def _label(backend: Backend, width: int, full: bool) -> str:
    waiting = f" waiting for {backend.waiting_for}" if backend.waiting_for else ""
    head = (
        f"pid {backend.pid} {backend.user or ''}/{backend.application or '-'} {backend.state or ''} "
        f"{cell(_age(backend.query_age))}{waiting}: "
    )
    query = fold(backend.query)
    return head + (query if full else cut(query, max(width - len(head) - 8, 20)))


def render_blocking(console: Console, forest: list[BlockingNode], *, full: bool = False) -> None:
    if not forest:
        console.print("[ok]No session is waiting on a lock.[/]")
        return
    blocked = sum(node.count() for node in forest)
    console.print(
        f"[title]{blocked} blocked session{'s' if blocked != 1 else ''} "
        f"behind {len(forest)} blocker{'s' if len(forest) != 1 else ''}[/]"
    )

    def add(tree: Tree, node: BlockingNode) -> None:
        for child in node.blocks:
            add(tree.add(_label(child.backend, console.width, full)), child)

    for root in forest:
        tree = Tree(f"[failing]{_label(root.backend, console.width, full)}[/]")
        add(tree, root)
        console.print(tree)
