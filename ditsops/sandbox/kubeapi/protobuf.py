"""Decoding ``application/vnd.kubernetes.protobuf`` request bodies into the JSON shape.

kubectl's typed commands (``kubectl create job --from=cronjob/X`` among them) send their
objects as protobuf: the magic ``k8s\\x00``, then a ``runtime.Unknown`` whose ``raw`` is
the object's message. The field tables in ``protoschema.json`` are generated from the
Kubernetes API's ``generated.proto`` and ``types.go`` by ``scripts/gen-kubeproto``.

Go's protobuf marshalling writes a non-pointer field even when it holds its zero value,
and a pointer only when set, so a zero is kept for pointers (``backoffLimit: 0``,
``suspend: false``) and dropped for ``omitempty`` fields, as JSON would have it. Only the
kinds in the tables decode (Job and CronJob); anything else is 415, as before.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from importlib import resources
from typing import Any

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
KINDS = {("batch/v1", "Job"): "k8s.io.api.batch.v1.Job", ("batch/v1", "CronJob"): "k8s.io.api.batch.v1.CronJob"}
_SIGNED = {"int32", "int64"}


class ProtobufError(ValueError):
    pass


@functools.cache
def _schema() -> dict[str, dict[int, tuple[str, str, str]]]:
    text = resources.files(__package__).joinpath("protoschema.json").read_text()
    return {
        name: {n: (json_name, type_, mode) for n, json_name, type_, mode in fields}
        for name, fields in json.loads(text).items()
    }


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _scalar(type_: str, wire: int, value: Any) -> Any:
    if type_ == "string":
        return value.decode("utf-8")
    if type_ == "bytes":
        return base64.b64encode(value).decode()
    if type_ == "bool":
        return bool(value)
    if type_ in ("double", "float") and wire in (1, 5):
        import struct

        return struct.unpack("<d" if wire == 1 else "<f", value.to_bytes(8 if wire == 1 else 4, "little"))[0]
    if type_ in _SIGNED and value >= 1 << 63:
        return value - (1 << 64)
    return value


def _special(type_: str, data: bytes) -> tuple[bool, Any]:
    """The apimachinery types whose JSON is not their message shape."""
    if type_ in (_META + "Time", _META + "MicroTime"):
        got = {n: v for n, _, v in _fields(data)}
        seconds, nanos = _scalar("int64", 0, got.get(1, 0)), got.get(2, 0)
        if not seconds and not nanos:
            return True, None
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return True, stamp + (f".{nanos // 1000:06d}Z" if type_.endswith("MicroTime") else "Z")
    if type_ == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return True, next((v.decode() for n, _, v in _fields(data) if n == 1), "0")
    if type_ == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        got = {n: v for n, _, v in _fields(data)}
        return True, got.get(3, b"").decode() if got.get(1) == 1 else _scalar("int32", 0, got.get(2, 0))
    if type_ in ("k8s.io.apimachinery.pkg.runtime.RawExtension", _META + "FieldsV1"):
        raw = next((v for n, _, v in _fields(data) if n == 1), b"")
        return True, json.loads(raw) if raw else None
    if type_ == _META + "Duration":
        ns = _scalar("int64", 0, next((v for n, _, v in _fields(data) if n == 1), 0))
        return True, f"{ns / 1e9:g}s"
    return False, None


def _zero(value: Any) -> bool:
    return value in ("", 0, False, None)


def decode_message(type_: str, data: bytes) -> Any:
    special, value = _special(type_, data)
    if special:
        return value
    table = _schema().get(type_)
    if table is None:
        raise ProtobufError(f"no schema for {type_}")
    out: dict[str, Any] = {}
    for number, wire, raw in _fields(data):
        field = table.get(number)
        if field is None:
            continue  # a newer field than the tables know: ignored, like an unknown JSON field
        name, ftype, mode = field
        nested = "." in ftype  # a message type (scalars are bare proto type names)
        if mode == "map":
            entry = {n: v for n, _, v in _fields(raw)}
            key = entry.get(1, b"").decode()
            item = decode_message(ftype, entry.get(2, b"")) if nested else _scalar(ftype, 2, entry.get(2, b""))
            out.setdefault(name, {})[key] = item
        elif nested:
            item = decode_message(ftype, raw)
            if name == "":  # json:",inline": the message's fields belong to the parent
                out.update(item or {})
            elif mode == "rep":
                out.setdefault(name, []).append(item)
            elif item is not None:
                out[name] = item
        elif mode == "rep" and wire == 2 and ftype not in ("string", "bytes"):
            pos = 0  # packed repeated scalars
            while pos < len(raw):
                item, pos = _varint(raw, pos)
                out.setdefault(name, []).append(_scalar(ftype, 0, item))
        else:
            item = _scalar(ftype, wire, raw)
            if mode == "rep":
                out.setdefault(name, []).append(item)
            elif not (mode == "opt" and _zero(item)):
                out[name] = item
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it stands for (with kind and apiVersion)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the protobuf magic k8s\\x00")
    envelope: dict[str, Any] = {}
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            envelope.update({{1: "apiVersion", 2: "kind"}[n]: v.decode() for n, _, v in _fields(value) if n in (1, 2)})
        elif number == 2:
            envelope["raw"] = value
        elif number == 3 and value:
            raise ProtobufError(f"content encoding {value.decode()!r} is not supported")
    api_version, kind = envelope.get("apiVersion", ""), envelope.get("kind", "")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise ProtobufError(
            f"this sandbox decodes protobuf only for {', '.join(k for _, k in KINDS)}, not {api_version} {kind}"
        )
    obj = decode_message(message, envelope.get("raw", b""))
    return {"kind": kind, "apiVersion": api_version, **obj}
