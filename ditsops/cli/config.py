"""`ditsops config ...`: the effective settings and where each came from."""

from __future__ import annotations

import typer

from ditsops.cli.common import OutputOption, app_state

app = typer.Typer(no_args_is_help=True, help="Show the effective configuration.\n\nExample: ditsops config show")


@app.command("show")
def show_command(ctx: typer.Context, output: OutputOption = None) -> None:
    """Print the effective settings, secrets redacted, with the source of each.

    Precedence: option > environment (DITSOPS_*, libpq PG*) > profile > defaults.

    Example: ditsops --profile sandbox config show
    """
    from ditsops.base import paths
    from ditsops.render.config import render_settings
    from ditsops.render.output import print_json

    state = app_state(ctx)
    settings = state.settings()
    path = state.config or paths.default_config_file()
    if state.output_format(output) == "json":
        print_json(
            state.consoles.out, {"config_file": str(path), "settings": settings.redacted(), "sources": settings.sources}
        )
        return
    render_settings(state.consoles.out, settings, path)
