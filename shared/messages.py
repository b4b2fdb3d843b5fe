"""Wire schemas of the messages that cross process boundaries, with their encoding.

Frames travel as msgpack maps (never tuples, never pickle) inside one field of a Redis
stream entry. Every message and record carries a version `v`, with one rule for all of them
(`check_version`): a reader takes its own version and every older one, and refuses a newer one.
Within a version changes are additive only, so a reader ignores keys it does not know. Anything
a reader cannot use raises MessageError, which readers count and skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

import msgpack

from shared import keys

FRAME_VERSION = 1


class MessageError(ValueError):
    """A message that cannot be decoded: not msgpack, wrong shape, unknown version, bad field."""


@dataclass(frozen=True, slots=True)
class FrameMessage:
    """One JPEG frame of one camera, as ingest writes it to the camera's frame stream."""

    camera_id: int
    seq: int  # increases by one per frame sent; restarts at 0 when the camera process restarts
    captured_at_s: float  # wall-clock (Unix) time the frame's packet was received
    width: int
    height: int
    jpeg: bytes

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb(
            {
                "v": FRAME_VERSION,
                "camera_id": self.camera_id,
                "seq": self.seq,
                "captured_at_s": self.captured_at_s,
                "width": self.width,
                "height": self.height,
                "jpeg": self.jpeg,
            },
            use_bin_type=True,
        )
        return packed

    @classmethod
    def decode(cls, data: bytes) -> FrameMessage:
        fields = unpack_map(data, "frame")
        check_version(fields, "frame", FRAME_VERSION)
        message = cls(
            camera_id=require_field(fields, "camera_id", int),
            seq=require_field(fields, "seq", int),
            captured_at_s=float(require_field(fields, "captured_at_s", (float, int))),
            width=require_field(fields, "width", int),
            height=require_field(fields, "height", int),
            jpeg=require_field(fields, "jpeg", bytes),
        )
        if message.width <= 0 or message.height <= 0:
            raise MessageError(f"frame: bad size {message.width}x{message.height}")
        if message.seq < 0:
            raise MessageError(f"frame: negative seq {message.seq}")
        if not message.jpeg:
            raise MessageError("frame: empty jpeg")
        return message

    @classmethod
    def from_entry(cls, fields: Mapping[bytes, bytes]) -> FrameMessage:
        """The frame in an entry of a frame stream."""
        return cls.decode(entry_payload(fields, keys.FRAME_FIELD))


def entry_payload(fields: Mapping[bytes, bytes], *names: str) -> bytes:
    """The message held by a stream entry (fields as a client that does not decode returns them):
    the first of `names` present, so a reader can name a field's older spelling after it."""
    for name in names:
        value = fields.get(name.encode())
        if value is not None:
            return value
    raise MessageError(f"stream entry without a {names[0]!r} field")


@contextmanager
def malformed(kind: str) -> Iterator[None]:
    """Turn what building a record from decoded fields may raise into the one MessageError."""
    try:
        yield
    except MessageError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MessageError(f"{kind}: bad record ({type(e).__name__}: {e})") from e


def unpack_map(data: bytes, kind: str) -> dict[str, Any]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MessageError(f"{kind}: expected bytes, got {type(data).__name__}")
    try:
        fields = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException, TypeError) as e:
        raise MessageError(f"{kind}: not msgpack ({e})") from e
    if not isinstance(fields, dict):
        raise MessageError(f"{kind}: expected a map, got {type(fields).__name__}")
    return fields


def require_field(fields: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in fields:
        raise MessageError(f"missing field {name!r}")
    value = fields[name]
    # bool is an int subclass; a True where a number belongs is a malformed message.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MessageError(f"field {name!r}: unexpected type {type(value).__name__}")
    return value


def check_version(fields: dict[str, Any], kind: str, current: int) -> int:
    """The record's version `v`: this reader's own or an older one; MessageError for anything else."""
    version = fields.get("v")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= current:
        raise MessageError(f"{kind}: unsupported version {version!r} (this reader knows 1..{current})")
    return version


def known_fields(cls: type, record: dict[str, Any]) -> dict[str, Any]:
    """The record's fields that the dataclass cls declares (a newer writer's additions left out)."""
    return {field.name: record[field.name] for field in dataclass_fields(cls) if field.name in record}


def dump_json_record(record: dict[str, Any], version: int) -> str:
    """A JSON message: the record's fields plus its version `v`, compact."""
    return json.dumps({**record, "v": version}, separators=(",", ":"))


def load_json_record(data: str | bytes, kind: str, version: int) -> dict[str, Any]:
    """The fields of a JSON record of this version or an older one; MessageError if it is anything else."""
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise MessageError(f"{kind}: not JSON ({e})") from e
    if not isinstance(record, dict):
        raise MessageError(f"{kind}: expected an object, got {type(record).__name__}")
    check_version(record, kind, version)
    return record
