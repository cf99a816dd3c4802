"""What a step kind is. Each kind lives in its own module in this package and registers itself.

A kind parses its own YAML fields (reporting problems with lines), says what it will run,
and either runs (a diagnostic) or previews and applies (an action). Whether it is
destructive is a property of the kind, never of the runbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ditsops.core.results import Preview, StepResult

if TYPE_CHECKING:
    from ditsops.core.config import Settings
    from ditsops.core.lease import TargetLease
    from ditsops.core.model import Step


class FieldReader:
    """Reads a step's fields, recording each problem with its line instead of stopping."""

    def __init__(self, raw: Mapping[str, Any], problem: Callable[[str, str], None], lines: Mapping[str, int]):
        self.raw = raw
        self._problem = problem
        self.lines = lines

    def problem(self, key: str, message: str, *, line: int | None = None) -> None:
        """A problem at the key's line, or at `line` of the file when the kind knows better
        (the line inside a block of SQL where the offending call stands)."""
        if line:
            self._problem(key, message, line)  # type: ignore[call-arg]
        else:
            self._problem(key, message)

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = False, default: Any = None) -> Any:
        if key not in self.raw:
            if required:
                self._problem(key, f"missing required field '{key}'")
            return default
        value = self.raw[key]
        if isinstance(value, bool) and kind in (int, float):
            self._problem(key, f"'{key}' must be a number, got {value!r}")
            return default
        if not isinstance(value, kind):
            expected = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            self._problem(key, f"'{key}' must be {expected}, got {type(value).__name__}")
            return default
        return value


@dataclass
class RunContext:
    """What a step can reach while it runs: settings, typed parameters, earlier results, clients."""

    settings: Settings
    params: dict[str, Any]
    results: dict[str, StepResult] = field(default_factory=dict)
    dry_run: bool = False
    run_id: str = ""  # names this run in leases and records
    clock: Callable[[], float] = None  # type: ignore[assignment]
    sleep: Callable[[float], None] = None  # type: ignore[assignment]
    rerun: Callable[[str], StepResult] | None = None  # set by the engine for verify steps
    manual: Callable[[Step, str], bool | None] | None = None  # asks the engineer to tick off a note
    actions_applied: int = 0  # changes made so far in this run: actions applied, manual steps ticked
    # live progress of a long action or wait: (message, live) — live messages replace each other
    progress: Callable[[str, bool], None] | None = None
    # set by the engine while an action applies: the backend accepted (part of) the change
    applied: Callable[[str, dict[str, Any]], None] | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: Any = field(default_factory=lambda: __import__("threading").Lock())

    def __post_init__(self) -> None:
        import time

        self.clock = self.clock or time.monotonic
        self.sleep = self.sleep or time.sleep

    def client(self, key: str, factory: Callable[[], Any]) -> Any:
        """One client per target for the whole run, opened on first use (from any thread)."""
        with self._lock:
            if key not in self._clients:
                self._clients[key] = factory()
            return self._clients[key]

    def report(self, message: str, *, live: bool = False) -> None:
        """Tell the engineer how a long step is going; `live` updates one line in place."""
        if self.progress:
            self.progress(message, live)

    def accepted(self, summary: str, **data: Any) -> None:
        """Put on record, before any wait that follows, that the backend took the change:
        a Ctrl-C or a lost connection afterwards must not erase it (with its undo)."""
        if self.applied:
            self.applied(summary, data)

    def forget(self, key: str) -> None:
        client = self._clients.pop(key, None)
        if client is not None and hasattr(client, "close"):
            try:
                client.close()
            except Exception:  # noqa: BLE001 - it is already broken; that is why we forget it
                pass

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing must never hide the run's own outcome
                    pass
        self._clients.clear()


class StepKind:
    key: ClassVar[str]  # the YAML key that selects the kind: sql, note, action, verify, ...
    name: ClassVar[str | None] = None  # for keys with sub-kinds (action: terminate-backends)
    destructive: ClassVar[bool] = False
    fields: ClassVar[tuple[str, ...]] = ()  # further keys this kind accepts
    thresholds: ClassVar[bool] = False  # whether threshold/unit make sense for it
    target: ClassVar[str] = ""  # which target it talks to: database, prometheus, kubernetes
    concludes: ClassVar[bool] = False  # its result says whether the incident is resolved (verify)
    prefetch: ClassVar[bool] = False  # a pure read: may run ahead, in the background, of its turn

    @property
    def registry_key(self) -> str:
        return f"{self.key}:{self.name}" if self.name else self.key

    def parse(self, value: Any, reader: FieldReader) -> Any:
        """The kind's typed spec from the kind key's value and the step's other fields."""
        raise NotImplementedError

    def references(self, spec: Any) -> set[str]:
        """Parameter names the spec's templates use, checked against the runbook's params."""
        return set()

    def check_params(self, spec: Any, params: dict[str, Any]) -> list[tuple[str, str]]:
        """(field, problem) pairs for placeholders whose parameter type cannot go where they stand."""
        return []

    def selection_templates(self, spec: Any) -> dict[str, Any]:
        """Field -> template of the fields that choose what the step touches (filters, label
        selectors, matchers). A placeholder there whose value is empty would widen the choice
        (`app={{ deployment }}` with deployment='' lists every pod), so a run refuses it
        before anything runs (loader.resolve_params). Read here from the specs' own shapes,
        so every kind is covered: kube steps' `spec.fields["selector"]`, a silence's
        `spec.matchers`, terminate/cancel-backends' `spec.filters`."""
        found: dict[str, Any] = {}
        fields = getattr(spec, "fields", None)
        if isinstance(fields, dict) and "selector" in fields:
            found["selector"] = fields["selector"]
        matchers = getattr(spec, "matchers", None)
        if isinstance(matchers, (list, tuple)):
            found.update({f"matcher {m!r}": m for m in matchers if isinstance(m, str)})
        filters = getattr(spec, "filters", None)
        if isinstance(filters, dict):
            found.update({f"filter {key}": value for key, value in filters.items()})
        return found

    def step_references(self, spec: Any) -> set[str]:
        """Ids of earlier steps the spec depends on (verify), checked at load time."""
        return set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        """The exact query or action, with parameters filled in, shown before it runs."""
        raise NotImplementedError

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        raise NotImplementedError


class ActionKind(StepKind):
    destructive = True

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        raise NotImplementedError

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        raise NotImplementedError

    def lease(self, step: Step, ctx: RunContext) -> TargetLease | None:
        """The lease this action holds on its target from preview to result, so that two
        engineers acting on the same target see each other; None: nothing to lease."""
        return None
