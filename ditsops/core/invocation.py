"""Commands ditsops prints for the engineer to paste: they must act on the same target.

A printed `undo:` line, a suggested runbook or a report command is pasted later, often in
another shell where DITSOPS_PROFILE or DITSOPS_KUBE_CONTEXT is not set. So each carries
the config file, profile, Kubernetes context and namespace the run used, spelled as
options, and is quoted for a POSIX shell. Secrets (a DSN given on the command line) are
never repeated: the profile or the environment has to supply them again.
"""

from __future__ import annotations

import shlex

from ditsops.core.config import Settings


def target_options(settings: Settings, *, namespace: str | None = None) -> list[str]:
    """The global options that select the same target as `settings` did."""
    words: list[str] = []
    if settings.config_path:
        words += ["--config", settings.config_path]
    if settings.profile:
        words += ["--profile", settings.profile]
    if settings.kube_context and not settings.sources.get("kube_context", "").startswith("profile"):
        words += ["--context", settings.kube_context]
    chosen = namespace or (
        settings.namespace if not settings.sources.get("namespace", "").startswith("profile") else None
    )
    if chosen:
        words += ["--namespace", chosen]
    return words


def ditsops_command(settings: Settings, *words: str, namespace: str | None = None) -> str:
    """`ditsops [target options] WORDS...`, shell-quoted, ready to paste."""
    return shlex.join(["ditsops", *target_options(settings, namespace=namespace), *words])


def retarget(settings: Settings, command: str) -> str:
    """A `ditsops ...` command written without target options (as plans write their undo),
    with the run's target options put in front; anything else is returned unchanged."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if not words or words[0] != "ditsops":
        return command
    rest, namespace = _take_namespace(words[1:])
    return ditsops_command(settings, *rest, namespace=namespace)


def _take_namespace(words: list[str]) -> tuple[list[str], str | None]:
    """Split a leading `-n NS` / `--namespace NS` off `words` (plans name their namespace)."""
    if len(words) >= 2 and words[0] in ("-n", "--namespace"):
        return words[2:], words[1]
    return words, None
