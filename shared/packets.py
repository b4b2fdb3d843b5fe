"""The access-unit message: a camera's own compressed video, as ingest writes it to the camera's
packet stream for passthrough viewers. msgpack, versioned like frames.

`data` is one whole access unit in Annex B (start codes). A keyframe carries the stream's
parameter sets (SPS/PPS, and VPS for H.265) in front, so a reader can start at any keyframe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgpack

from shared import keys
from shared.messages import MessageError, check_version, entry_payload, require_field, unpack_map

PACKET_VERSION = 1
CODECS = ("h264", "hevc")  # FFmpeg's names


@dataclass(frozen=True, slots=True)
class PacketMessage:
    camera_id: int
    seq: int  # increases by one per access unit; restarts at 0 when the reader reconnects
    codec: str  # "h264" or "hevc"
    keyframe: bool
    pts_s: float  # the access unit's time on the camera's own clock (RTP), seconds since the reader started
    captured_at_s: float  # wall-clock (Unix) time its last packet arrived
    data: bytes

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb(
            {
                "v": PACKET_VERSION, "camera_id": self.camera_id, "seq": self.seq, "codec": self.codec,
                "keyframe": self.keyframe, "pts_s": self.pts_s, "captured_at_s": self.captured_at_s, "data": self.data,
            },
            use_bin_type=True,
        )  # fmt: skip
        return packed

    @classmethod
    def decode(cls, data: bytes) -> PacketMessage:
        fields = unpack_map(data, "packet")
        check_version(fields, "packet", PACKET_VERSION)
        keyframe = fields.get("keyframe")
        if not isinstance(keyframe, bool):
            raise MessageError("packet: field 'keyframe' must be true or false")
        message = cls(
            camera_id=require_field(fields, "camera_id", int),
            seq=require_field(fields, "seq", int),
            codec=require_field(fields, "codec", str),
            keyframe=keyframe,
            pts_s=float(require_field(fields, "pts_s", (float, int))),
            captured_at_s=float(require_field(fields, "captured_at_s", (float, int))),
            data=require_field(fields, "data", bytes),
        )
        if message.codec not in CODECS:
            raise MessageError(f"packet: unknown codec {message.codec[:20]!r}")
        if not message.data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            raise MessageError("packet: data is not Annex B")
        return message

    @classmethod
    def from_entry(cls, fields: Mapping[bytes, bytes]) -> PacketMessage:
        return cls.decode(entry_payload(fields, keys.PACKET_FIELD))


AUDIO_VERSION = 1
AUDIO_CODECS = ("pcm_mulaw", "pcm_alaw", "aac")


@dataclass(frozen=True, slots=True)
class AudioMessage:
    """A camera's audio as it sent it: one G.711 packet, or one AAC frame (raw, no ADTS header)."""

    camera_id: int
    seq: int
    codec: str  # FFmpeg's name: pcm_mulaw, pcm_alaw or aac
    sample_rate: int
    channels: int
    config: bytes  # AAC's AudioSpecificConfig (from the camera's SDP); empty for G.711
    pts_s: float
    captured_at_s: float
    data: bytes

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb(
            {
                "v": AUDIO_VERSION, "camera_id": self.camera_id, "seq": self.seq, "codec": self.codec,
                "sample_rate": self.sample_rate, "channels": self.channels, "config": self.config,
                "pts_s": self.pts_s, "captured_at_s": self.captured_at_s, "data": self.data,
            },
            use_bin_type=True,
        )  # fmt: skip
        return packed

    @classmethod
    def decode(cls, data: bytes) -> AudioMessage:
        fields = unpack_map(data, "audio")
        check_version(fields, "audio", AUDIO_VERSION)
        message = cls(
            camera_id=require_field(fields, "camera_id", int), seq=require_field(fields, "seq", int),
            codec=require_field(fields, "codec", str), sample_rate=require_field(fields, "sample_rate", int),
            channels=require_field(fields, "channels", int), config=require_field(fields, "config", bytes),
            pts_s=float(require_field(fields, "pts_s", (float, int))),
            captured_at_s=float(require_field(fields, "captured_at_s", (float, int))),
            data=require_field(fields, "data", bytes),
        )  # fmt: skip
        if message.codec not in AUDIO_CODECS or not 1 <= message.channels <= 8 or message.sample_rate <= 0:
            raise MessageError("audio: unknown codec or bad format")
        return message

    @classmethod
    def from_entry(cls, fields: Mapping[bytes, bytes]) -> AudioMessage:
        return cls.decode(entry_payload(fields, keys.PACKET_FIELD))
