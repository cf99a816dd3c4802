"""What a step kind is. Each kind lives in its own module in this package and registers itself.

A kind parses its own YAML fields (reporting problems with lines) into its own typed spec
(`StepKind[SpecT]`), says what it will run, and either runs (a diagnostic) or previews and
applies (an action). Whether it is destructive is a property of the kind, never of the runbook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

from ditsops.core.params import ParamSpec, ParamValue
from ditsops.core.results import Preview, StepResult

if TYPE_CHECKING:
    from ditsops.core.config import Settings
    from ditsops.core.lease import TargetLease
    from ditsops.core.model import Step

SpecT = TypeVar("SpecT")  # a kind's own parsed fields (SqlSpec, KubeSpec, ...)
ClientT = TypeVar("ClientT")


class FieldReader:
    """Reads a step's fields, recording each problem with its line instead of stopping."""

    def __init__(
        self, raw: Mapping[str, Any], problem: Callable[[str, str, int | None], None], lines: Mapping[str, int]
    ) -> None:
        self.raw = raw
        self._problem = problem
        self.lines = lines

    def problem(self, key: str, message: str, *, line: int | None = None) -> None:
        """A problem at the key's line, or at `line` of the file when the kind knows better
        (the line inside a block of SQL where the offending call stands)."""
        self._problem(key, message, line or None)

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = False, default: Any = None) -> Any:
        if key not in self.raw:
            if required:
                self.problem(key, f"missing required field '{key}'")
            return default
        value = self.raw[key]
        if isinstance(value, bool) and kind in (int, float):
            self.problem(key, f"'{key}' must be a number, got {value!r}")
            return default
        if not isinstance(value, kind):
            expected = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            self.problem(key, f"'{key}' must be {expected}, got {type(value).__name__}")
            return default
        return value


class RunHooks(Protocol):
    """What the walk offers a step while it runs. The engine's walker implements it and hands
    it to the RunContext it makes; outside a walk, NoHooks."""

    def rerun(self, step_id: str, params: Mapping[str, ParamValue] | None = None) -> StepResult:
        """Run an earlier diagnostic again and make its result the latest (verify); `params`
        replace the walk's parameters of the same names for this re-check only."""
        ...

    def manual(self, step: Step, text: str) -> bool | None:
        """Ask the engineer to tick off a manual step; None: nobody at a terminal to ask."""
        ...

    def progress(self, message: str, live: bool) -> None:
        """How a long step is going; live messages replace each other."""
        ...

    def applied(self, summary: str, data: dict[str, object]) -> None:
        """The backend accepted (part of) the change of the action in progress."""
        ...


class NoHooks:
    """A step run on its own, outside a runbook walk: nobody to ask, nothing earlier to re-run."""

    def rerun(self, step_id: str, params: Mapping[str, ParamValue] | None = None) -> StepResult:
        return StepResult.failed(f"cannot re-run '{step_id}' outside a runbook walk")

    def manual(self, step: Step, text: str) -> bool | None:
        return None

    def progress(self, message: str, live: bool) -> None:
        pass

    def applied(self, summary: str, data: dict[str, object]) -> None:
        pass


@dataclass
class RunContext:
    """What a step can reach while it runs: settings, typed parameters, earlier results, clients."""

    settings: Settings
    params: dict[str, ParamValue]
    results: dict[str, StepResult] = field(default_factory=dict)
    dry_run: bool = False
    run_id: str = ""  # names this run in leases and records
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    hooks: RunHooks = field(default_factory=NoHooks)
    actions_applied: int = 0  # changes made so far in this run: actions applied, manual steps ticked
    # `clock` time the last of them ended (None: none in this run, or only the resumed run's)
    changed_at: float | None = None
    _clients: dict[str, object] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, key: str, factory: Callable[[], ClientT]) -> ClientT:
        """One client per target for the whole run, opened on first use (from any thread)."""
        with self._lock:
            if key not in self._clients:
                self._clients[key] = factory()
            # the key names the target, so what is cached under it is what its factory made
            return cast(ClientT, self._clients[key])

    def rerun(self, step_id: str, params: Mapping[str, ParamValue] | None = None) -> StepResult:
        """Run an earlier diagnostic again (for verify); its result becomes the step's latest."""
        return self.hooks.rerun(step_id, params)

    def changed(self) -> None:
        """This run changed something (an action applied, a manual fix ticked): verify steps wait."""
        self.actions_applied += 1
        self.changed_at = self.clock()

    def manual(self, step: Step, text: str) -> bool | None:
        """Ask the engineer to tick off a note: True done, False skipped, None nobody to ask."""
        return self.hooks.manual(step, text)

    def report(self, message: str, *, live: bool = False) -> None:
        """Tell the engineer how a long step is going; `live` updates one line in place."""
        self.hooks.progress(message, live)

    def accepted(self, summary: str, **data: object) -> None:
        """Put on record, before any wait that follows, that the backend took the change:
        a Ctrl-C or a lost connection afterwards must not erase it (with its undo)."""
        self.hooks.applied(summary, data)

    def forget(self, key: str) -> None:
        with self._lock:
            client = self._clients.pop(key, None)
        _close(client)  # it is already broken; that is why we forget it

    def close(self) -> None:
        # Under the lock: after a Ctrl-C, prefetch threads may still be opening clients.
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            _close(client)  # closing must never hide the run's own outcome


def _close(client: object) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - a client that fails to close has nothing more to say
            pass


class StepKind(Generic[SpecT]):
    """A kind of step whose parsed fields are a SpecT. The loader pairs every step with its
    kind; the kind reads its spec back, typed, with `spec_of(step)`."""

    key: ClassVar[str]  # the YAML key that selects the kind: sql, note, action, verify, ...
    name: ClassVar[str | None] = None  # for keys with sub-kinds (action: terminate-backends)
    spec_type: type[SpecT]  # what parse returns; spec_of checks a step's spec against it
    destructive: ClassVar[bool] = False
    fields: ClassVar[tuple[str, ...]] = ()  # further keys this kind accepts
    thresholds: ClassVar[bool] = False  # whether threshold/unit make sense for it
    target: ClassVar[str] = ""  # which target it talks to: database, prometheus, kubernetes
    concludes: ClassVar[bool] = False  # its result says whether the incident is resolved (verify)
    prefetch: ClassVar[bool] = False  # a pure read: may run ahead, in the background, of its turn

    @property
    def registry_key(self) -> str:
        return f"{self.key}:{self.name}" if self.name else self.key

    def spec_of(self, step: Step) -> SpecT:
        """The step's spec, as this kind parsed it."""
        spec = step.spec
        if not isinstance(spec, self.spec_type):
            raise TypeError(f"step {step.id}: a {type(spec).__name__} is not a {self.registry_key} spec")
        return spec

    def parse(self, value: Any, reader: FieldReader) -> SpecT | None:
        """The kind's typed spec from the kind key's value and the step's other fields
        (None when a problem was reported through the reader)."""
        raise NotImplementedError

    def references(self, spec: SpecT) -> set[str]:
        """Parameter names the spec's templates use, checked against the runbook's params."""
        return set()

    def check_params(self, spec: SpecT, params: dict[str, ParamSpec]) -> list[tuple[str, str]]:
        """(field, problem) pairs for placeholders whose parameter type cannot go where they stand."""
        return []

    def selection_templates(self, spec: SpecT) -> dict[str, object]:
        """Field -> template of the fields that choose what the step touches (filters, label
        selectors, matchers). A placeholder there whose value is empty would widen the choice
        (`app={{ deployment }}` with deployment='' lists every pod), so a run refuses it
        before anything runs (loader.resolve_params). Read here from the specs' own shapes,
        so every kind is covered: kube steps' `spec.fields["selector"]`, a silence's
        `spec.matchers`, terminate/cancel-backends' `spec.filters`."""
        found: dict[str, object] = {}
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

    def step_references(self, spec: SpecT) -> set[str]:
        """Ids of earlier steps the spec depends on (verify), checked at load time."""
        return set()

    def describe(self, step: Step, params: dict[str, ParamValue]) -> str:
        """The exact query or action, with parameters filled in, shown before it runs."""
        raise NotImplementedError

    def brief(self, step: Step, params: dict[str, ParamValue]) -> str | None:
        """A one-line stand-in for `describe` in a walk, when the whole text would bury the
        result (a named SQL diagnostic: its name and arguments); None: show the whole text.
        The record and the report always keep the whole text."""
        return None

    def run(self, step: Step, ctx: RunContext) -> StepResult:
        raise NotImplementedError


class ActionKind(StepKind[SpecT]):
    destructive = True

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        raise NotImplementedError

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        raise NotImplementedError

    def lease(self, step: Step, ctx: RunContext) -> TargetLease | None:
        """The lease this action holds on its target from preview to result, so that two
        engineers acting on the same target see each other; None: nothing to lease."""
        return None
