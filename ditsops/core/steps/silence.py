"""`action: silence` and `action: expire-silence` — Alertmanager silences change who gets
paged, so they are previewed and confirmed like any destructive step.

    - id: mute
      title: Silence the alert while the rollback settles
      action: silence
      matchers: [alertname=HighErrorRate]
      duration: 30m
      comment: Rolled back; waiting for the error ratio to recover

Matchers are parsed from the runbook's text before any value is known; a parameter fills
a matcher's value slot only (core/matchers.py). The preview asks Alertmanager which alerts
match (its own parser and RE2 regexes), so the count shown is what the silence mutes; a
matcher it rejects stops the run as a usage error (exit 2), with its message.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ditsops.base.durations import parse_duration, to_prometheus
from ditsops.base.errors import RunAborted, StateMoved, UsageError
from ditsops.core.invocation import ditsops_command
from ditsops.core.matchers import MatcherSyntaxError, MatcherTemplate, matcher_text
from ditsops.core.model import Step
from ditsops.core.record import who
from ditsops.core.results import Preview, Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import ActionKind, FieldReader, RunContext
from ditsops.core.template import references_in, render_text, resolve

if TYPE_CHECKING:
    from ditsops.clients.alertmanager import AlertmanagerClient, Matcher, Silence


def alertmanager(ctx: RunContext) -> AlertmanagerClient:
    from ditsops.core import connect

    return ctx.client("alertmanager", lambda: connect.alertmanager(ctx.settings))


@dataclass(frozen=True)
class SilenceSpec:
    matchers: tuple[str, ...]
    duration: str
    comment: str


@register
class SilenceKind(ActionKind[SilenceSpec]):
    spec_type = SilenceSpec
    key = "action"
    name = "silence"
    fields = ("matchers", "duration", "comment")
    target = "alertmanager"

    def parse(self, value: Any, reader: FieldReader) -> SilenceSpec | None:
        matchers = reader.get("matchers", list, required=True) or []
        for text in matchers:
            # Parsed as written, placeholders and all: a value fills the value slot only.
            try:
                MatcherTemplate.parse(str(text))
            except MatcherSyntaxError as error:
                reader.problem("matchers", str(error))
        if not matchers:
            reader.problem("matchers", "a silence needs at least one matcher")
        duration = str(reader.get("duration", (str, int), required=True, default="1h"))
        if not references_in(duration):
            try:
                parse_duration(duration)
            except ValueError as error:
                reader.problem("duration", str(error))
        comment = reader.get("comment", str, required=True, default="")
        return SilenceSpec(tuple(map(str, matchers)), duration, comment)

    def references(self, spec: SilenceSpec | None) -> set[str]:
        return references_in([*spec.matchers, spec.duration, spec.comment]) if spec else set()

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        spec = self.spec_of(step)
        try:
            shown = " ".join(matcher_text(m) for m in _matchers(spec, params))
        except RunAborted:
            shown = " ".join(spec.matchers)  # the preview says what is wrong with them
        return f"silence {shown} for {render_text(spec.duration, params)}"

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        spec = self.spec_of(step)
        matchers = _matchers(spec, ctx.params)
        value = resolve(spec.duration, ctx.params)
        duration = value if isinstance(value, timedelta) else parse_duration(str(value))
        ends = datetime.now(UTC) + duration
        comment = render_text(spec.comment, ctx.params)
        client = alertmanager(ctx)
        texts = [matcher_text(m) for m in matchers]
        try:
            # Alertmanager matches (with its own RE2 regexes) the alerts the silence would mute.
            hit = client.matching_alerts(texts)
        except UsageError as error:
            raise RunAborted(error) from None  # the silence is wrong, not the target: exit 2
        rows = [
            (
                a.name,
                a.state,
                a.severity,
                ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "severity")),
            )
            for a in hit
        ]
        shown = " ".join(texts)
        alertname = next(
            (m.value for m in matchers if m.name == "alertname" and m.is_equal and not m.is_regex), "silence"
        )
        pasted = " ".join(shlex.quote(t) for t in texts)
        return Preview(
            target=alertname,
            summary=f"silence {shown} for {to_prometheus(duration)} (until {ends:%H:%M} UTC) on {client.where}: "
            f"{len(hit)} alert{'s' if len(hit) != 1 else ''} firing now would be muted",
            table=Table(("alert", "state", "severity", "labels"), rows),
            command=f"amtool silence add {pasted} --duration={to_prometheus(duration)} "
            f"--comment={shlex.quote(comment)}",
            items={"matchers": matchers, "ends": ends, "comment": comment},
            data={"matchers": texts, "ends": ends.isoformat(), "matching_alerts": len(hit)},
        )

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        items = preview.items
        silence_id = alertmanager(ctx).add_silence(
            items["matchers"], items["ends"], who(), items["comment"] or "ditsops"
        )
        undo = ditsops_command(ctx.settings, "silence", "expire", silence_id)
        ctx.accepted(f"silence {silence_id} created", silence_id=silence_id, undo=undo)
        return StepResult(
            Status.APPLIED,
            f"silence {silence_id} active until {items['ends']:%Y-%m-%d %H:%M} UTC; undo: {undo}",
            data={"silence_id": silence_id, "undo": undo},
        )


@register
class ExpireSilenceKind(ActionKind[str]):
    spec_type = str
    key = "action"
    name = "expire-silence"
    fields = ("silence",)
    target = "alertmanager"

    def parse(self, value: Any, reader: FieldReader) -> str | None:
        silence: str | None = reader.get("silence", str, required=True)
        return silence

    def references(self, spec: str | None) -> set[str]:
        return references_in(spec or "")

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        return f"expire silence {render_text(self.spec_of(step), params)}"

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        silence_id = render_text(self.spec_of(step), ctx.params)
        silence = alertmanager(ctx).silence(silence_id)
        shown = " ".join(m.describe() for m in silence.matchers)
        if silence.state == "expired":
            return Preview(target=silence_id, summary=f"silence {silence_id} has already expired", empty=True)
        return Preview(
            target=silence_id,
            summary=f"expire silence {silence_id} ({shown}, by {silence.created_by}: {silence.comment!r}); "
            "the alerts it mutes will notify again",
            command=f"amtool silence expire {silence_id}",
            items=_fingerprint(silence),
            data={"silence_id": silence_id, "matchers": shown},
        )

    def apply(self, step: Step, preview: Preview, ctx: RunContext) -> StepResult:
        previewed = preview.items
        client = alertmanager(ctx)
        now = _fingerprint(client.silence(previewed["id"]))
        if now != previewed:
            moved = ", ".join(
                f"{k}: {previewed[k]} at the preview, now {now[k]}" for k in now if now[k] != previewed[k]
            )
            raise StateMoved(f"silence {previewed['id']} changed since the preview: {moved}")
        client.expire_silence(previewed["id"])
        return StepResult(Status.APPLIED, f"silence {previewed['id']} expired", data={"expired": previewed["id"]})


def _matchers(spec: SilenceSpec, params: dict[str, Any]) -> list[Matcher]:
    """The silence's matchers: each parsed from its template, then filled in its value slot."""
    try:
        return [MatcherTemplate.parse(text).fill(params) for text in spec.matchers]
    except MatcherSyntaxError as error:
        raise RunAborted(UsageError(str(error))) from None
    except KeyError as missing:
        raise RunAborted(UsageError(f"silence matchers use {{{{ {missing.args[0]} }}}}, which has no value")) from None


def _fingerprint(silence: Silence) -> dict[str, Any]:
    """What expiring a silence is decided on: the same silence, still muting the same thing."""
    return {
        "id": silence.id,
        "state": silence.state,
        "matchers": " ".join(m.describe() for m in silence.matchers),
        "ends": str(silence.ends),
        "comment": silence.comment,
    }
