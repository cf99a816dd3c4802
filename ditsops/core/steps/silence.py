"""`action: silence` and `action: expire-silence` — Alertmanager silences change who gets
paged, so they are previewed and confirmed like any destructive step.

    - id: mute
      title: Silence the alert while the rollback settles
      action: silence
      matchers: [alertname=HighErrorRate]
      duration: 30m
      comment: Rolled back; waiting for the error ratio to recover
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ditsops.core.durations import parse_duration, to_prometheus
from ditsops.core.errors import StateMoved
from ditsops.core.invocation import ditsops_command
from ditsops.core.model import Step
from ditsops.core.record import who
from ditsops.core.results import Preview, Status, StepResult, Table
from ditsops.core.steps import register
from ditsops.core.steps.base import ActionKind, FieldReader, RunContext
from ditsops.core.template import references_in, render_text, resolve


def alertmanager(ctx: RunContext):
    from ditsops.clients.alertmanager import AlertmanagerClient

    return ctx.client("alertmanager", lambda: AlertmanagerClient.connect(ctx.settings))


@dataclass(frozen=True)
class SilenceSpec:
    matchers: tuple[str, ...]
    duration: str
    comment: str


@register
class SilenceKind(ActionKind):
    key = "action"
    name = "silence"
    fields = ("matchers", "duration", "comment")
    target = "alertmanager"

    def parse(self, value: Any, reader: FieldReader) -> SilenceSpec | None:
        from ditsops.clients.alertmanager import Matcher
        from ditsops.core.errors import UsageError

        matchers = reader.get("matchers", list, required=True) or []
        for text in matchers:
            if not references_in(text):
                try:
                    Matcher.parse(str(text))
                except UsageError as error:
                    reader.problem("matchers", error.message)
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
        spec: SilenceSpec = step.spec
        return f"silence {' '.join(render_text(m, params) for m in spec.matchers)} for {render_text(spec.duration, params)}"

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        from ditsops.clients.alertmanager import Matcher

        spec: SilenceSpec = step.spec
        matchers = [Matcher.parse(render_text(m, ctx.params)) for m in spec.matchers]
        value = resolve(spec.duration, ctx.params)
        duration = value if isinstance(value, timedelta) else parse_duration(str(value))
        ends = datetime.now(UTC) + duration
        comment = render_text(spec.comment, ctx.params)
        client = alertmanager(ctx)
        hit = [a for a in client.alerts() if all(m.matches(a.labels) for m in matchers)]
        rows = [
            (
                a.name,
                a.state,
                a.severity,
                ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "severity")),
            )
            for a in hit
        ]
        shown = " ".join(m.describe() for m in matchers)
        alertname = next(
            (m.value for m in matchers if m.name == "alertname" and m.is_equal and not m.is_regex), "silence"
        )
        return Preview(
            target=alertname,
            summary=f"silence {shown} for {to_prometheus(duration)} (until {ends:%H:%M} UTC) on {client.where}: "
            f"{len(hit)} alert{'s' if len(hit) != 1 else ''} firing now would be muted",
            table=Table(("alert", "state", "severity", "labels"), rows),
            command=f"amtool silence add {shown} --duration={to_prometheus(duration)} --comment={comment!r}",
            items={"matchers": matchers, "ends": ends, "comment": comment},
            data={"matchers": [m.describe() for m in matchers], "ends": ends.isoformat(), "matching_alerts": len(hit)},
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
class ExpireSilenceKind(ActionKind):
    key = "action"
    name = "expire-silence"
    fields = ("silence",)
    target = "alertmanager"

    def parse(self, value: Any, reader: FieldReader) -> str | None:
        return reader.get("silence", str, required=True)

    def references(self, spec: str | None) -> set[str]:
        return references_in(spec or "")

    def describe(self, step: Step, params: dict[str, Any]) -> str:
        return f"expire silence {render_text(step.spec, params)}"

    def preview(self, step: Step, ctx: RunContext) -> Preview:
        silence_id = render_text(step.spec, ctx.params)
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


def _fingerprint(silence) -> dict[str, Any]:
    """What expiring a silence is decided on: the same silence, still muting the same thing."""
    return {
        "id": silence.id,
        "state": silence.state,
        "matchers": " ".join(m.describe() for m in silence.matchers),
        "ends": str(silence.ends),
        "comment": silence.comment,
    }
