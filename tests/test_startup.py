"""Performance budget: the everyday commands never import the heavy client libraries.

DESIGN.md, "Performance budgets": `ditsops --help` and `ditsops runbook list` import none
of kubernetes, psycopg, requests, httpx, prometheus_api_client; the clients import them
inside the function that needs them. `runbook show` and `runbook lint` only read YAML,
so they are held to the same budget (yaml itself is allowed). No command here imports
pydantic either: typer would convert option values through it (cli/coercion.py).

Issue 11, "Start-up at the floor": `--help` imports no command group (they load when
invoked, cli/main.py LAZY_COMMANDS), and `runbook list` with an up-to-date runbook index
parses no YAML and does not import the loader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN = ("psycopg", "kubernetes", "requests", "httpx", "prometheus_api_client", "urllib3", "pydantic")

# Runs the console-script entry exactly as the `ditsops` script does, then reports the
# exit code and every module that was imported on the way.
_PROBE = """
import json, sys
sys.argv = ["ditsops", *sys.argv[1:]]
from ditsops.cli.main import run
code = 0
try:
    run()
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
sys.stdout.flush()
sys.stderr.write("\\n@@probe@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""

_IMPORTERS_HINT = "run `python -X importtime -m ditsops ARGS 2>&1 | less` to see which project module imports it"


def _environment(home: Path) -> dict[str, str]:
    """No user config, runbooks or DSN from the machine: the shipped catalogue only."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DITSOPS_", "PG"))}
    return {
        **env,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "COLUMNS": "120",
    }


def _probe(args: list[str], home: Path) -> tuple[int, set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=_environment(home),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    head, _, report = done.stderr.rpartition("\n@@probe@@")
    assert report, f"probe crashed: {done.stderr[-2000:]}"
    result = json.loads(report)
    return result["code"], set(result["modules"]), done.stdout + head


def _import_chain(args: list[str], home: Path, forbidden: str) -> str:
    """The import chain that brought in `forbidden`, read from `python -X importtime`.

    importtime prints each module after the ones it imported, nested by indentation, so the
    chain is the forbidden package's line followed by each later, less indented line. A chain
    that ends at the package itself means it was imported inside a function, at run time.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=_environment(home),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]

    def depth_and_name(line: str) -> tuple[int, str]:
        name_part = line.rsplit("|", 1)[-1]
        stripped = name_part.lstrip(" ")
        return (len(name_part) - len(stripped)) // 2, stripped.strip()

    for index, line in enumerate(lines):
        depth, name = depth_and_name(line)
        if name != forbidden:
            continue
        chain = [name]
        for later in lines[index + 1 :]:
            later_depth, later_name = depth_and_name(later)
            if later_depth < depth:
                chain.append(later_name)
                depth = later_depth
        if len(chain) == 1:
            return f"{forbidden} (imported inside a function at run time, not by a module's top level)"
        return " <- ".join(chain)
    return "(not found in -X importtime output)"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["runbook", "list"],
        ["runbook", "show", "db-connections-exhausted"],
        ["runbook", "lint"],
    ],
    ids=lambda args: " ".join(args),
)
def test_command_imports_no_heavy_client_library(args: list[str], tmp_path: Path) -> None:
    code, modules, output = _probe(args, tmp_path)
    assert code == 0, f"ditsops {' '.join(args)} exited {code}:\n{output}"
    imported = sorted({name for name in FORBIDDEN if any(m == name or m.startswith(name + ".") for m in modules)})
    if imported:
        chains = "\n".join(f"  {name}: {_import_chain(args, tmp_path, name)}" for name in imported)
        pytest.fail(
            f"ditsops {' '.join(args)} imports {', '.join(imported)}; import chains:\n{chains}\n"
            f"({_IMPORTERS_HINT}; move the import into the function that uses it)"
        )


def _imported(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_help_lists_every_group_without_importing_one(tmp_path: Path) -> None:
    from ditsops.cli.main import LAZY_COMMANDS

    code, modules, output = _probe(["--help"], tmp_path)
    assert code == 0, output
    loaded = sorted({module for module, _, _ in LAZY_COMMANDS.values()} & modules)
    assert not loaded, f"ditsops --help imported command groups: {loaded}"
    for name in LAZY_COMMANDS:
        assert f" {name} " in output, f"ditsops --help does not list {name}:\n{output}"


def test_runbook_list_reads_the_index_and_parses_nothing_unchanged(tmp_path: Path) -> None:
    own = tmp_path / "config" / "ditsops" / "runbooks"
    own.mkdir(parents=True)
    (own / "own-check.yaml").write_text(
        "name: own-check\ntitle: My own check\nsteps:\n  - {id: up, title: Up, promql: up}\n", encoding="utf-8"
    )
    first_code, first_modules, first = _probe(["runbook", "list"], tmp_path)  # builds the index
    assert first_code == 0, first
    assert _imported(first_modules, "ditsops.core.loader")  # the files were parsed once
    code, modules, output = _probe(["runbook", "list"], tmp_path)
    assert code == 0, output
    assert output == first  # the same listing, own runbook included
    assert "own-check" in output and "My own check" in output
    parsed = sorted(m for m in ("yaml", "ditsops.core.loader", "ditsops.core.yamllines") if _imported(modules, m))
    assert not parsed, f"runbook list with an up-to-date index still imported {parsed}"
    groups = sorted(m for m in modules if m.startswith("ditsops.cli.") and m.count(".") == 2)
    assert "ditsops.cli.db" not in groups and "ditsops.cli.k8s" not in groups, groups
