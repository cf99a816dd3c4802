"""One exception tree for everything ditsops can fail at.

Clients translate library exceptions (psycopg, httpx, kubernetes) into these at their
boundary; the CLI's single handler turns them into a one-line message and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process exits with; the record's `exit_code` and `--output json` carry the number."""

    OK = 0
    ERROR = 1
    USAGE = 2  # bad usage or an invalid runbook
    CHECK_FAILED = 3  # not resolved: a verify or check still failing, a fix declined
    UNREACHABLE = 4  # a target (database, Prometheus, API server) could not be reached
    REFUSED = 5  # a destructive step was refused
    INTERRUPTED = 130


class DitsopsError(Exception):
    """Base of every error ditsops reports to the user as one line."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(DitsopsError):
    """A wrong option or parameter value."""

    exit_code = ExitCode.USAGE


class ConfigError(DitsopsError):
    """The configuration file or a profile is wrong."""

    exit_code = ExitCode.USAGE


class RunbookError(DitsopsError):
    """A runbook failed to load; carries every problem found, not just the first."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[str]) -> None:
        first = problems[0] if problems else "invalid runbook"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)
        self.problems = problems


class TargetUnreachable(DitsopsError):
    """A service ditsops talks to could not be reached or answered with a server error."""

    exit_code = ExitCode.UNREACHABLE


class TargetError(DitsopsError):
    """A reachable service rejected a request (bad query, permission denied, conflict)."""

    exit_code = ExitCode.ERROR


class StateMoved(DitsopsError):
    """What a destructive step previewed no longer holds: someone changed the target between
    the preview and the answer. Nothing was sent; the engine re-previews and asks again on a
    terminal, and refuses without one (`--yes` approves only the plan that was previewed)."""

    exit_code = ExitCode.REFUSED


class RunAborted(Exception):
    """A step found that the run itself is wrong (e.g. Alertmanager rejects a silence's
    matchers): the run stops there, as a usage error, instead of going on as a failed step.

    Deliberately outside DitsopsError, so the engine's per-step error handling lets it pass;
    the command that started the run ends the run record and exits with `error`'s code.
    """

    def __init__(self, error: DitsopsError) -> None:
        super().__init__(error.message)
        self.error = error


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, carrying what to tell the engineer: whether the step in
    progress had already been applied (and its undo), or that nothing further changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
