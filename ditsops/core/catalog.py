"""Finding runbooks: the ones shipped inside the package, then the engineer's own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ditsops.base import paths
from ditsops.base.errors import RunbookError, UsageError
from ditsops.core.runbook_index import RunbookSummary, lookup

if TYPE_CHECKING:
    from ditsops.core.model import Runbook

# The loader (YAML, every step kind) is imported by the functions that parse: listing
# reads the runbook index and parses only what changed (core/runbook_index.py).

_PACKAGE = Path(__file__).resolve().parent.parent


def shipped_dir() -> Path:
    """Inside an installed wheel runbooks sit in the package; in a checkout, beside it."""
    installed = _PACKAGE / "runbooks"
    return installed if installed.is_dir() else _PACKAGE.parent / "runbooks"


def user_dir() -> Path:
    return paths.config_dir() / "runbooks"


def runbook_files() -> list[Path]:
    """Every runbook file; a user's file shadows a shipped one of the same name."""
    found: dict[str, Path] = {}
    for directory in (shipped_dir(), user_dir()):
        if directory.is_dir():
            for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
                found[path.stem] = path
    return [found[name] for name in sorted(found)]


def shadowed(path: Path | str | None) -> Path | None:
    """The shipped runbook that `path` hides, if `path` is not itself the shipped file but
    is an own runbook (or any file) with the name of a shipped one: the engineer must see
    which file runs."""
    if path is None:
        return None
    path = Path(path)
    for suffix in (".yaml", ".yml"):
        shipped = shipped_dir() / f"{path.stem}{suffix}"
        if shipped.is_file():
            try:
                same = shipped.resolve() == path.resolve()
            except OSError:
                same = False
            return None if same else shipped
    return None


def display_path(path: Path | str) -> str:
    """A path as the engineer would type it: under the home directory as ~/..."""
    path = Path(path)
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError, OSError):
        return str(path)


@dataclass(frozen=True)
class CatalogEntry:
    path: Path
    runbook: Runbook | None
    problems: tuple[str, ...] = ()
    shadows: Path | None = None  # the shipped runbook this own one hides


@dataclass(frozen=True)
class ListedRunbook:
    """A runbook as listings show it: its summary from the index, or its problems."""

    path: Path
    runbook: RunbookSummary | None
    problems: tuple[str, ...] = ()
    shadows: Path | None = None  # the shipped runbook this own one hides


def listing() -> list[ListedRunbook]:
    """Every runbook file with its summary or problems, parsing only the files that changed
    since the runbook index last saw them (`runbook list`)."""
    files = runbook_files()
    found = lookup(files)
    return [ListedRunbook(path, found[path].summary, found[path].problems, shadowed(path)) for path in files]


def catalog() -> list[CatalogEntry]:
    from ditsops.core.loader import load_runbook

    entries = []
    for path in runbook_files():
        shadows = shadowed(path)
        try:
            entries.append(CatalogEntry(path, load_runbook(path), shadows=shadows))
        except RunbookError as error:
            entries.append(CatalogEntry(path, None, tuple(error.problems), shadows=shadows))
    return entries


def find(name_or_path: str) -> Runbook:
    """A runbook by name, or by path to a YAML file."""
    from ditsops.core.loader import load_runbook

    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return load_runbook(candidate)
    for path in runbook_files():
        if path.stem == name_or_path:
            return load_runbook(path)
    names = ", ".join(p.stem for p in runbook_files()) or "none"
    raise UsageError(f"no runbook named {name_or_path!r} (available: {names})", hint="ditsops runbook list")


def for_alert(alert: str) -> list[Runbook]:
    return [e.runbook for e in catalog() if e.runbook and e.runbook.alert == alert]
