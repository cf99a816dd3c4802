"""Alertmanager API v2: alerts, silences (add, list, expire)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ditsops.base.errors import UsageError
from ditsops.base.secrets import strip_password
from ditsops.clients.bounded import DEFAULT_MAX_BYTES
from ditsops.clients.http import make_client, request
from ditsops.clients.prometheus import Alert, parse_time
from ditsops.clients.shapes import am_alerts, am_silence, am_silence_id, am_silences, json_body

if TYPE_CHECKING:
    from ditsops.base.origins import Credentials

_AM = "Alertmanager"
_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*\Z", re.DOTALL)


def unescape_value(raw: str) -> str:
    """A matcher's value as amtool 0.25 reads it (alertmanager pkg/labels/parse.go): an
    opening double quote needs its closing one (`foo="bar` is an error, not the value
    `"bar`); inside, `\\n` is a newline, `\\"` a quote, `\\\\` a backslash, any other
    backslash itself; an unescaped quote elsewhere is an error. ValueError names the fault."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    escaped, open_quote = False, quoted
    for i, ch in enumerate(body):
        if escaped:
            escaped = False
            out.append("\n" if ch == "n" else ch if ch in '"\\' else "\\" + ch)
            continue
        if ch == "\\" and i < len(body) - 1:
            escaped = True
        elif ch == '"':
            if not open_quote or i < len(body) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {raw}")
            open_quote = False
        else:
            out.append(ch)
    if open_quote:
        raise ValueError(f"matcher value contains unescaped double quote: {raw}")
    return "".join(out)


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """`name=value`, `name!=value`, `name=~regex`, `name!~regex` (amtool's syntax)."""
        match = _MATCHER.match(text)
        if not match:
            raise UsageError(f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
        name, op, raw = match.groups()
        try:
            value = unescape_value(raw)
        except ValueError as error:
            raise UsageError(f"matcher {text!r}: {error}") from None
        return cls(name, value, is_regex="~" in op, is_equal=not op.startswith("!"))

    def describe(self) -> str:
        op = (
            ("=" if self.is_equal else "!") + ("~" if self.is_regex else "")
            if self.is_regex or not self.is_equal
            else "="
        )
        return f'{self.name}{op}"{self.value}"'

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        hit = re.fullmatch(self.value, actual) is not None if self.is_regex else actual == self.value
        return hit == self.is_equal


@dataclass(frozen=True)
class Silence:
    id: str
    state: str  # active | pending | expired
    matchers: tuple[Matcher, ...]
    starts: datetime | None
    ends: datetime | None
    created_by: str
    comment: str


class AlertmanagerClient:
    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float,
        secrets: frozenset[str],
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.url = url
        self._secrets = secrets
        self._http = make_client(self.url, credentials, timeout, max_bytes)

    @property
    def where(self) -> str:
        return strip_password(self.url)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params: Any) -> Any:
        return json_body(request(self._http, "GET", path, "Alertmanager", self._secrets, params=params or None), _AM)

    def alerts(self) -> list[Alert]:
        result = []
        for item in am_alerts(self._get("/api/v2/alerts")):
            status = item.get("status", {})
            silenced, inhibited = tuple(status.get("silencedBy") or ()), tuple(status.get("inhibitedBy") or ())
            state = (
                "silenced"
                if silenced
                else "inhibited"
                if inhibited
                else ("firing" if status.get("state") == "active" else status.get("state", "firing"))
            )
            result.append(
                Alert(
                    name=item["labels"].get("alertname", "?"),
                    state=state,
                    labels=item.get("labels", {}),
                    annotations=item.get("annotations", {}),
                    since=parse_time(item.get("startsAt")),
                    source="alertmanager",
                    silenced_by=silenced,
                    inhibited_by=inhibited,
                )
            )
        return result

    def silences(self) -> list[Silence]:
        return [_silence(item) for item in am_silences(self._get("/api/v2/silences"))]

    def silence(self, silence_id: str) -> Silence:
        return _silence(am_silence(self._get(f"/api/v2/silence/{silence_id}")))

    def add_silence(self, matchers: list[Matcher], ends: datetime, created_by: str, comment: str) -> str:
        body = {
            "matchers": [m.to_api() for m in matchers],
            "startsAt": datetime.now(UTC).isoformat(),
            "endsAt": ends.isoformat(),
            "createdBy": created_by,
            "comment": comment,
        }
        response = request(self._http, "POST", "/api/v2/silences", "Alertmanager", self._secrets, json=body)
        return am_silence_id(json_body(response, _AM))

    def expire_silence(self, silence_id: str) -> None:
        request(self._http, "DELETE", f"/api/v2/silence/{silence_id}", "Alertmanager", self._secrets)

    def matching_alerts(self, filters: list[str]) -> list[Alert]:
        """The alerts a silence with these matchers would mute, as Alertmanager itself
        decides: it parses each `filter` matcher and matches with its own (RE2) code, so the
        preview agrees with the silence. A matcher Alertmanager rejects is a UsageError
        carrying its message. `filters` are matcher texts: name="value", name=~"regex", ...
        """
        from ditsops.clients.http import envelope_error

        response = request(
            self._http,
            "GET",
            "/api/v2/alerts",
            "Alertmanager",
            self._secrets,
            ok_statuses=(400,),
            params={"filter": list(filters)},
        )
        if response.status_code == 400:
            reason = (envelope_error(response) or response.text.strip() or "bad request").strip()
            raise UsageError(f"Alertmanager rejected the matchers {' '.join(filters)}: {reason}")
        return [_alert(item) for item in am_alerts(json_body(response, _AM))]


def _silence(item: dict[str, Any]) -> Silence:
    return Silence(
        id=item["id"],
        state=item.get("status", {}).get("state", ""),
        matchers=tuple(
            Matcher(m["name"], m["value"], m.get("isRegex", False), m.get("isEqual", True))
            for m in item.get("matchers", [])
        ),
        starts=parse_time(item.get("startsAt")),
        ends=parse_time(item.get("endsAt")),
        created_by=item.get("createdBy", ""),
        comment=item.get("comment", ""),
    )


def _alert(item: dict[str, Any]) -> Alert:
    """One alert of /api/v2/alerts (the same reading as `alerts()`)."""
    status = item.get("status", {})
    silenced, inhibited = tuple(status.get("silencedBy") or ()), tuple(status.get("inhibitedBy") or ())
    active = "firing" if status.get("state") == "active" else status.get("state", "firing")
    labels = item.get("labels", {})
    return Alert(
        name=labels.get("alertname", "?"),
        state="silenced" if silenced else "inhibited" if inhibited else active,
        labels=labels,
        annotations=item.get("annotations", {}),
        since=parse_time(item.get("startsAt")),
        source="alertmanager",
        silenced_by=silenced,
        inhibited_by=inhibited,
    )
