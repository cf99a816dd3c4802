"""The shape of what Prometheus, Alertmanager and the Dits server answer, checked at the boundary.

A proxy's error page, a different API version or a broken server can answer well-formed
JSON of the wrong shape. The clients pass every decoded document through one of these
checks before reading it, so a wrong answer is one line naming the service and the place
(`Prometheus answered an unexpected document: data.result[0].value is not a [time, value]
pair`), exit 4 (TargetUnreachable), instead of an IndexError deep in a renderer.

Each check returns the document it was given (or the part the caller reads), unchanged:
the clients keep building their own values from it. Messages name the place and the
expected type, never the values (an answer may echo a label or a query).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Literal, overload

from ditsops.base.errors import TargetUnreachable

RESULT_TYPES = ("scalar", "vector", "matrix", "string")
_GO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")


class UnexpectedAnswer(TargetUnreachable):
    """A service answered, but not with a document of the shape its API promises."""

    def __init__(self, service: str, problem: str) -> None:
        super().__init__(f"{service} answered an unexpected document: {problem}")


class _At:
    """A place in a document, for messages: data.result[0].value."""

    def __init__(self, service: str, path: str = "") -> None:
        self.service, self.path = service, path

    def __getitem__(self, key: str | int) -> _At:
        if isinstance(key, int):
            return _At(self.service, f"{self.path}[{key}]")
        return _At(self.service, f"{self.path}.{key}" if self.path else key)

    def fail(self, what: str) -> UnexpectedAnswer:
        return UnexpectedAnswer(self.service, f"{self.path or 'the document'} is not {what}")

    def object(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("an object")
        return value

    def list(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail("a list")
        return value

    @overload
    def text(self, value: Any, *, optional: Literal[False] = False) -> str: ...
    @overload
    def text(self, value: Any, *, optional: bool) -> str | None: ...
    def text(self, value: Any, *, optional: bool = False) -> str | None:
        if value is None and optional:
            return value
        if not isinstance(value, str):
            raise self.fail("text")
        return value

    def labels(self, value: Any, *, optional: bool = True) -> Any:
        """A label or annotation set: an object of text values."""
        if value is None and optional:
            return value
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail("an object of text values")
        return value

    def texts(self, value: Any) -> Any:
        if value is None:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("a list of text")
        return value

    def number(self, value: Any) -> Any:
        """Prometheus writes sample values as text ("1.5", "NaN", "+Inf") and times as numbers."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail("a number")
        try:
            float(value)
        except (ValueError, OverflowError):
            raise self.fail("a number") from None
        return value

    def time(self, value: Any) -> Any:
        """An RFC 3339 time as Go writes it (or absent)."""
        if value is None or value == "":
            return value
        if not isinstance(value, str) or not _GO_TIME.match(value):
            raise self.fail("an RFC 3339 time")
        try:
            datetime.fromisoformat(re.sub(r"\.(\d{1,6})\d*", r".\1", value.replace("Z", "+00:00")))
        except ValueError:
            raise self.fail("an RFC 3339 time") from None
        return value

    def pair(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail("a [time, value] pair")
        time, sample = value
        if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
            raise self.fail("a [time, value] pair")
        if not isinstance(sample, str):
            raise self.fail("a [time, value] pair")
        self.number(sample)
        return value


def json_body(response: Any, service: str) -> Any:
    """The decoded JSON of a requests or httpx response."""
    if response is None:
        raise UnexpectedAnswer(service, "no answer was kept")
    try:
        return response.json()
    except (ValueError, RecursionError):  # JSONDecodeError of both libraries is a ValueError
        raise UnexpectedAnswer(service, "the answer is not JSON") from None


# -- Prometheus ---------------------------------------------------------------------------


def prom_query(body: Any) -> tuple[dict[str, Any], list[str]]:
    """An /api/v1/query or /api/v1/query_range envelope: (data, warnings)."""
    at = _At("Prometheus")
    at.object(body)
    if body.get("status", "success") != "success":
        raise at["status"].fail('"success"')
    warnings = at["warnings"].texts(body.get("warnings")) or []
    data = at["data"].object(body.get("data"))
    kind = data.get("resultType")
    if kind not in RESULT_TYPES:
        raise at["data"]["resultType"].fail("one of " + ", ".join(RESULT_TYPES))
    result = data.get("result")
    where = at["data"]["result"]
    if kind in ("scalar", "string"):
        if not isinstance(result, list) or len(result) != 2:
            raise where.fail("a [time, value] pair")
        if kind == "scalar":
            where.pair(result)
        return data, list(warnings)
    for index, item in enumerate(where.list(result)):
        place = where[index]
        place.object(item)
        place["metric"].labels(item.get("metric", {}), optional=False)
        if kind == "matrix":
            for number, point in enumerate(place["values"].list(item.get("values"))):
                place["values"][number].pair(point)
        else:
            place["value"].pair(item.get("value"))
    return data, list(warnings)


def prom_alerts(body: Any) -> list[dict[str, Any]]:
    """/api/v1/alerts: data.alerts, each with labels, annotations, state, activeAt."""
    at = _At("Prometheus")
    data = at["data"].object(at.object(body).get("data"))
    alerts = at["data"]["alerts"].list(data.get("alerts"))
    for index, item in enumerate(alerts):
        place = at["data"]["alerts"][index]
        place.object(item)
        place["labels"].labels(item.get("labels"), optional=False)
        place["annotations"].labels(item.get("annotations", {}), optional=False)
        place["state"].text(item.get("state", "firing"))
        place["activeAt"].time(item.get("activeAt"))
        place["value"].text(item.get("value"), optional=True)
    return alerts


def prom_rule_groups(body: Any) -> list[dict[str, Any]]:
    """/api/v1/rules: data.groups, each with a list of rule objects."""
    at = _At("Prometheus")
    data = at["data"].object(at.object(body).get("data"))
    groups = at["data"]["groups"].list(data.get("groups"))
    for index, group in enumerate(groups):
        place = at["data"]["groups"][index]
        place.object(group)
        for number, rule in enumerate(place["rules"].list(group.get("rules", []))):
            place["rules"][number].object(rule)
    return groups


# -- Alertmanager -------------------------------------------------------------------------


def am_alerts(body: Any) -> list[dict[str, Any]]:
    """/api/v2/alerts: a list of alerts with labels, annotations, status, startsAt."""
    at = _At("Alertmanager")
    alerts = at.list(body)
    for index, item in enumerate(alerts):
        place = at[index]
        place.object(item)
        place["labels"].labels(item.get("labels"), optional=False)
        place["annotations"].labels(item.get("annotations", {}), optional=False)
        status = place["status"].object(item.get("status", {}))
        place["status"]["state"].text(status.get("state", "active"))
        place["status"]["silencedBy"].texts(status.get("silencedBy"))
        place["status"]["inhibitedBy"].texts(status.get("inhibitedBy"))
        place["startsAt"].time(item.get("startsAt"))
    return alerts


def am_silence(body: Any, at: _At | None = None) -> dict[str, Any]:
    """/api/v2/silence/{id}: id, status.state, matchers, times, createdBy, comment."""
    at = at or _At("Alertmanager")
    silence = at.object(body)
    at["id"].text(silence.get("id"))
    status = at["status"].object(silence.get("status", {}))
    at["status"]["state"].text(status.get("state", ""))
    for index, matcher in enumerate(at["matchers"].list(silence.get("matchers", []))):
        place = at["matchers"][index]
        place.object(matcher)
        place["name"].text(matcher.get("name"))
        place["value"].text(matcher.get("value"))
        for flag in ("isRegex", "isEqual"):
            if not isinstance(matcher.get(flag, False), bool):
                raise place[flag].fail("true or false")
    at["startsAt"].time(silence.get("startsAt"))
    at["endsAt"].time(silence.get("endsAt"))
    at["createdBy"].text(silence.get("createdBy", ""))
    at["comment"].text(silence.get("comment", ""))
    return silence


def am_silences(body: Any) -> list[dict[str, Any]]:
    """/api/v2/silences: a list of silences."""
    at = _At("Alertmanager")
    return [am_silence(item, at[index]) for index, item in enumerate(at.list(body))]


def am_silence_id(body: Any) -> str:
    """POST /api/v2/silences: {"silenceID": "..."}."""
    at = _At("Alertmanager")
    return at["silenceID"].text(at.object(body).get("silenceID"))


# -- Dits server --------------------------------------------------------------------------


def dits_health(body: Any, *, json: bool = False) -> Any:
    """/health: an object with status, version, uptime_seconds and a list of checks. A body
    that was not JSON is shown as text by the caller; JSON that is not an object (a list
    counted as healthy once) is a shape error."""
    at = _At("Dits server")
    if json:
        at.object(body)
    if not isinstance(body, dict):
        return body
    at["status"].text(body.get("status"), optional=True)
    at["version"].text(body.get("version"), optional=True)
    uptime = body.get("uptime_seconds")
    if uptime is not None and (isinstance(uptime, bool) or not isinstance(uptime, (int, float))):
        raise at["uptime_seconds"].fail("a number")
    for index, check in enumerate(at["checks"].list(body.get("checks", []))):
        place = at["checks"][index]
        place.object(check)
        place["name"].text(check.get("name"), optional=True)
        place["status"].text(check.get("status"), optional=True)
        place["message"].text(check.get("message"), optional=True)
        latency = check.get("latency_ms")
        if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float))):
            raise place["latency_ms"].fail("a number")
    return body
