"""Which Interaction a command talks through: the compact walk, the whole walk, or JSON."""

from __future__ import annotations

from ditsops.cli.compactwalk import CompactInteraction
from ditsops.cli.prompts import ConsoleInteraction, JsonInteraction
from ditsops.render.console import Consoles


def interaction_for(
    consoles: Consoles,
    *,
    json_output: bool,
    full: bool,
    mode: str,
    show_queries: bool = False,
    compact: bool = False,
) -> ConsoleInteraction:
    """The Interaction a command talks through: JSON on stdout with the conversation on
    stderr, or the walk on stdout; questions where `consoles.ask` says (the terminal)."""
    if json_output:
        return JsonInteraction(
            consoles.err, consoles.out, ask=consoles.ask, full=full, mode=mode, show_queries=show_queries
        )
    if compact:  # a runbook walk on one screen
        return CompactInteraction(consoles.out, ask=consoles.ask, full=full, mode=mode)
    return ConsoleInteraction(consoles.out, ask=consoles.ask, full=full, mode=mode, show_queries=show_queries)
