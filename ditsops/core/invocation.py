"""Commands ditsops prints for the engineer to paste: they must act on the same target.

A printed `undo:` line, a suggested runbook or a report command is pasted later, often in
another shell where DITSOPS_PROFILE or DITSOPS_KUBE_CONTEXT is not set. So each carries
the config file, profile, Kubernetes context and namespace the run used, spelled as
options, and is quoted for a POSIX shell. Secrets (a DSN given on the command line) are
never repeated: the profile or the environment has to supply them again.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, TypeVar

from ditsops.core.config import Settings

P = TypeVar("P")

_QUOTED_COMMAND = re.compile(r"`(ditsops(?: [^`\n]*)?)`")


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


def retarget_text(settings: Settings, text: str) -> str:
    """Runbook text with each `` `ditsops ...` `` in backticks (the form a command to paste
    takes there) carrying the run's target options: ``Run `ditsops db blocking` `` read on
    the sandbox says `ditsops --profile sandbox db blocking`, which works pasted anywhere."""
    return _QUOTED_COMMAND.sub(lambda m: f"`{retarget(settings, m.group(1))}`", text)


def kubectl_command(settings: Settings, command: str) -> str:
    """A `kubectl ...` line (a preview's `Equivalent:`) with the kubeconfig and context the
    run used, so pasted in a shell without KUBECONFIG it reaches the same cluster."""
    words = command.split(" ", 1)
    if words[0] != "kubectl":
        return command
    given = set(command.split())
    options: list[str] = []
    # KUBECONFIG from the environment is kubectl's own variable: the shell that has it gives
    # it to kubectl too. From a profile (or DITSOPS_*) kubectl would never learn it.
    from_kubeconfig_variable = settings.sources.get("kubeconfig") == "environment KUBECONFIG"
    if settings.kubeconfig and not from_kubeconfig_variable and "--kubeconfig" not in given:
        options += ["--kubeconfig", settings.kubeconfig]
    if settings.kube_context and "--context" not in given:
        options += ["--context", settings.kube_context]
    if not options:
        return command
    return " ".join(["kubectl", shlex.join(options), *words[1:]])


def with_kubectl(settings: Settings, plan: P) -> P:
    """`plan` (anything with a `kubectl` line, and an `undo` that may be one) with those
    lines made pasteable (kubectl_command)."""
    holder: Any = plan
    holder.kubectl = kubectl_command(settings, holder.kubectl)
    if isinstance(getattr(holder, "undo", None), str):
        holder.undo = kubectl_command(settings, holder.undo)
    return plan
