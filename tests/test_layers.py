"""The layers of DESIGN.md ("Layout"), read from the source with `ast`.

Imports go one way: cli -> incidents -> store -> core -> clients, cli -> render; ditsops/base sits
at the bottom where every layer may use it. render only draws (no questions, no environment reads);
core, clients and render never import the sandbox or the cli. Every import counts: module
level, inside functions, and under TYPE_CHECKING (a type is a dependency too).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ditsops"

# The bottom: ditsops/base, the modules every layer may import. They import only each
# other (checked below). origins and sqlguard are there because clients enforce them at the
# boundary (a request stays on its origin; a diagnostic is checked before it is sent).
BOTTOM_PACKAGE = "ditsops.base"
LAYERS = ("cli", "incidents", "store", "core", "clients", "render", "sandbox", "sql")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports(name: str) -> set[str]:
    """Every ditsops module `name` imports, at any depth of its code. `from X import Y`
    counts X.Y when that is a module (a submodule import), else X."""
    known = modules()
    found: set[str] = set()
    package = name if (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists() else name.rpartition(".")[0]
    for node in ast.walk(known[name]):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m == "ditsops" or m.startswith("ditsops.")}


def layer(name: str) -> str:
    if name == BOTTOM_PACKAGE or name.startswith(BOTTOM_PACKAGE + "."):
        return "bottom"
    if name == "ditsops.__main__":
        return "entry"  # `python -m ditsops`: above the cli
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "root"


def under(layer_name: str) -> list[str]:
    return [name for name in modules() if layer(name) == layer_name]


def test_the_package_is_read() -> None:
    # A walk that found nothing would pass every check below.
    assert len(under("render")) >= 5 and len(under("core")) >= 20 and len(under("clients")) >= 5
    assert {"ditsops.base.errors", "ditsops.base.sqlguard", "ditsops.base.origins"} <= set(under("bottom"))


# --- render only draws ---------------------------------------------------------------


def _reads_or_asks(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "input":
                found.append(f"line {node.lineno}: input()")
            elif isinstance(func, ast.Attribute) and func.attr == "input":
                found.append(f"line {node.lineno}: .input()")
        if isinstance(node, ast.Name) and "Prompt" in node.id:
            found.append(f"line {node.lineno}: {node.id}")
        if isinstance(node, ast.alias) and "prompt" in node.name.lower():
            found.append(f"import {node.name}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {("os", "environ"), ("sys", "stdin"), ("os", "getenv")}:
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "sys"):
            names = {alias.name for alias in node.names}
            if names & {"environ", "getenv", "stdin"}:
                found.append(f"line {node.lineno}: from {node.module} import {', '.join(sorted(names))}")
    return found


@pytest.mark.parametrize("name", sorted(n for n in modules() if layer(n) == "render"))
def test_render_neither_asks_nor_reads_the_environment(name: str) -> None:
    assert _reads_or_asks(modules()[name]) == [], f"{name} asks or reads the terminal; that is cli/prompts.py's job"


def test_the_render_check_catches_what_it_looks_for() -> None:
    tree = ast.parse(
        "import os, sys\nfrom rich.prompt import Prompt\n"
        "def f(c):\n    c.input('?')\n    input()\n    os.environ.get('X')\n    sys.stdin.isatty()\n"
    )
    assert len(_reads_or_asks(tree)) == 5


# --- one direction of dependencies ---------------------------------------------------


@pytest.mark.parametrize("lower", ["incidents", "store", "core", "clients", "render", "bottom"])
def test_no_layer_below_the_cli_imports_the_sandbox_or_the_cli(lower: str) -> None:
    wrong = {
        f"{name} -> {target}"
        for name in under(lower)
        for target in imports(name)
        if layer(target) in ("sandbox", "cli")
    }
    assert not wrong, "the sandbox hangs off the product through its hook; nothing below the cli imports it"


@pytest.mark.parametrize("lower", ["core", "clients", "render", "bottom"])
def test_the_store_hangs_off_the_record_nothing_below_it_imports_it(lower: str) -> None:
    wrong = {f"{name} -> {target}" for name in under(lower) for target in imports(name) if layer(target) == "store"}
    assert not wrong, f"the store listens to the run record (core/record.py listeners): {sorted(wrong)}"


@pytest.mark.parametrize("lower", ["store", "core", "clients", "bottom"])
def test_the_incidents_sit_above_the_store_nothing_below_imports_them(lower: str) -> None:
    wrong = {f"{name} -> {target}" for name in under(lower) for target in imports(name) if layer(target) == "incidents"}
    assert not wrong, f"incidents are read and joined from above (cli); below them nothing knows them: {sorted(wrong)}"


def test_the_incidents_are_read_and_draw_nothing() -> None:
    assert len(under("incidents")) >= 5
    assert {"store", "core"} <= layer_graph().get("incidents", set())
    assert "incidents" in layer_graph().get("cli", set())
    drawn = {f"{n} -> {t}" for n in under("incidents") for t in imports(n) if layer(t) == "render"}
    assert not drawn, "incidents return values; render/incidents.py draws them"


def test_the_store_is_read() -> None:
    assert len(under("store")) >= 5
    assert "core" in layer_graph().get("store", set()) and "store" in layer_graph().get("cli", set())


def test_clients_import_only_the_bottom_of_core() -> None:
    wrong = {f"{name} -> {target}" for name in under("clients") for target in imports(name) if layer(target) == "core"}
    assert not wrong, f"clients take plain values; core builds them (core/connect.py): {sorted(wrong)}"


def test_clients_and_render_do_not_import_each_other() -> None:
    wrong = {
        f"{name} -> {target}"
        for a, b in (("clients", "render"), ("render", "clients"))
        for name in under(a)
        for target in imports(name)
        if layer(target) == b
    }
    assert not wrong, sorted(wrong)


def test_the_bottom_imports_only_the_bottom() -> None:
    wrong = {f"{name} -> {target}" for name in under("bottom") for target in imports(name) if layer(target) != "bottom"}
    assert not wrong, sorted(wrong)


def layer_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name in modules():
        for target in imports(name):
            if target in modules() and layer(target) != layer(name):
                graph.setdefault(layer(name), set()).add(layer(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the graph as a path that ends where it starts, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in sorted(graph.get(node, ())):
            cycle = visit(nxt)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_no_import_cycle_between_layers() -> None:
    graph = layer_graph()
    assert graph.get("cli", set()) >= {"core", "render"}  # the graph was built: the cli uses both
    assert find_cycle(graph) is None, f"import cycle between layers: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"core": {"clients"}, "clients": {"core"}}) == ["clients", "core", "clients"]
    assert find_cycle({"cli": {"core"}, "core": {"clients"}}) is None


def test_no_import_cycle_between_modules_of_the_kubernetes_api() -> None:
    # The in-memory API server follows client-go's controllers module by module; its
    # deployment sync once imported the rollout half that imports it back.
    graph = {name: imports(name) for name in modules() if name.startswith("ditsops.sandbox.kubeapi")}
    assert len(graph) >= 10
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_no_two_modules_import_each_other() -> None:
    """A circle of two (core/acting <-> core/engine, core/lease <-> core/pglease were such) says
    the two are one module, or that what both need belongs in a third."""
    circles = {
        tuple(sorted((name, target)))
        for name in modules()
        for target in imports(name)
        if target != name
        and target in modules()
        and name in imports(target)
        and not name.endswith("__init__")
        and not target.endswith("__init__")
    }
    packages = {n for n in modules() if (PACKAGE.parent / n.replace(".", "/") / "__init__.py").exists()}
    circles = {c for c in circles if not (set(c) & packages)}  # a package importing its own modules is not a circle
    assert not circles, sorted(circles)
