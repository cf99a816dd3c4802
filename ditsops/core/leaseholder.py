"""Who holds a lease, as its record says, and whether that record can be believed.

Split from core/lease.py (which re-exports these names). A Lease is written by anyone
with RBAC on Leases: its times are data from outside and are judged here, never trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

RUN_KEY = "ditsops.dev/run"  # annotation: the run id (too long for a label value in general)
STEP_KEY = "ditsops.dev/step"  # annotation: the step id
MAX_DURATION = 3600  # seconds: a longer lease is not one a short CLI run would hold
MAX_SKEW = 300  # seconds a Lease's time may lie ahead of this machine's clock before it is unbelievable


@dataclass(frozen=True)
class Holder:
    who: str  # user@host
    run_id: str
    step: str
    since: datetime | None  # acquireTime (Kubernetes) or backend_start (PostgreSQL; None if hidden)
    renewed: datetime | None = None
    expires: datetime | None = None  # None: held as long as the holder's connection lives
    suspicious: str = ""  # why the record's times cannot be believed (then it counts as expired)

    def describe(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.since is None:
            since = "since an unknown time"
        else:
            since_utc = self.since.astimezone(UTC)
            shape = "%H:%M:%S" if since_utc.date() == now.date() else "%Y-%m-%d %H:%M:%S"
            since = f"since {since_utc.strftime(shape)} UTC"
        if self.suspicious:
            since += f" (times not believable: {self.suspicious}; treated as expired)"
        elif self.expires is not None:
            left = (self.expires - now).total_seconds()
            since += f" (expires in {math.ceil(left)}s)" if left > 0 else f" (expired {int(-left)}s ago)"
        return f"{self.who or 'someone'}, run {self.run_id or 'unknown'}, step {self.step or 'unknown'}, {since}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def micro_time(moment: datetime) -> str:
    """``metav1.MicroTime`` on the wire: RFC 3339 in UTC with six fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def lease_holder(lease: dict[str, Any], now: datetime | None = None) -> Holder:
    """The holder a Lease object records (annotations from ditsops; empty for others).

    Anyone who may write a Lease can write renewTime 9999-12-31 or a duration of a century:
    times outside a sane range (see `_unbelievable`) make the record suspicious, shown as
    such and counted as expired, so that it can neither block a target nor break the run."""
    spec = lease.get("spec") or {}
    notes = (lease.get("metadata") or {}).get("annotations") or {}
    renewed = parse_time(spec.get("renewTime"))
    since = parse_time(spec.get("acquireTime")) or parse_time((lease.get("metadata") or {}).get("creationTimestamp"))
    last = renewed or since
    duration = spec.get("leaseDurationSeconds")
    suspicious = _unbelievable(spec, renewed, since, duration, now or now_utc())
    expires = None
    if not suspicious:
        expires = last + timedelta(seconds=duration) if last and isinstance(duration, int | float) else last
    return Holder(
        str(spec.get("holderIdentity") or ""),
        str(notes.get(RUN_KEY, "")),
        str(notes.get(STEP_KEY, "")),
        since,
        renewed,
        expires,
        suspicious,
    )


def _unbelievable(
    spec: dict[str, Any], renewed: datetime | None, since: datetime | None, duration: Any, now: datetime
) -> str:
    """Why a Lease's times cannot be true ("" when they can): stamped later than now by
    more than clocks disagree, a duration outside 1s..MAX_DURATION, a time not readable."""
    for field_name, moment in (("renewTime", renewed), ("acquireTime", since)):
        raw = spec.get(field_name)
        if raw and moment is None:
            return f"{field_name} is not a time"
        if moment is not None and (moment - now).total_seconds() > MAX_SKEW:
            return f"{field_name} {moment.strftime('%Y-%m-%d %H:%M:%S')} UTC is in the future"
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration <= MAX_DURATION
    ):
        return f"leaseDurationSeconds {str(duration)[:20]} is outside 1..{MAX_DURATION}"
    return ""


def lease_free(lease: dict[str, Any], now: datetime) -> bool:
    """Nobody holds it: no holderIdentity (client-go's release), or expired (renewTime + duration
    passed; a record without times cannot prove its holder alive, so it counts as expired,
    and so does one whose times cannot be true)."""
    holder = lease_holder(lease, now)
    return not holder.who or holder.expires is None or holder.expires <= now
