"""RTP payloads back into whole access units (H.264: RFC 6184, H.265: RFC 7798), released the
moment the packet with the marker bit arrives, instead of when the next access unit begins (what
FFmpeg's RTSP demuxer does: one frame interval of latency).

An access unit comes out in Annex B (start codes), with its keyframe flag, and a keyframe carries
the stream's parameter sets in front when the camera did not send them with it.
"""

from __future__ import annotations

from dataclasses import dataclass

START = b"\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class AccessUnit:
    codec: str  # "h264" or "hevc"
    data: bytes  # Annex B
    keyframe: bool
    rtp_timestamp: int


class _Codec:
    """The NAL unit rules of one codec."""

    name = ""
    header_len = 1
    aggregate = -1
    fragment = -1
    parameter_types: frozenset[int] = frozenset()

    def nal_type(self, header: bytes) -> int:
        raise NotImplementedError

    def is_keyframe(self, nal_type: int) -> bool:
        raise NotImplementedError

    def fragment_start(self, payload: bytes) -> tuple[bytes, bool, bool, int]:
        """(the rebuilt NAL header, start bit, end bit, offset of the fragment's data)."""
        raise NotImplementedError


class _H264(_Codec):
    name = "h264"
    header_len = 1
    aggregate = 24  # STAP-A
    fragment = 28  # FU-A
    parameter_types = frozenset({7, 8})  # SPS, PPS

    def nal_type(self, header: bytes) -> int:
        return header[0] & 0x1F

    def is_keyframe(self, nal_type: int) -> bool:
        return nal_type == 5  # IDR slice

    def fragment_start(self, payload: bytes) -> tuple[bytes, bool, bool, int]:
        indicator, fu = payload[0], payload[1]
        return bytes([(indicator & 0xE0) | (fu & 0x1F)]), bool(fu & 0x80), bool(fu & 0x40), 2


class _H265(_Codec):
    name = "hevc"
    header_len = 2
    aggregate = 48  # AP
    fragment = 49  # FU
    parameter_types = frozenset({32, 33, 34})  # VPS, SPS, PPS

    def nal_type(self, header: bytes) -> int:
        return (header[0] >> 1) & 0x3F

    def is_keyframe(self, nal_type: int) -> bool:
        return 16 <= nal_type <= 21  # IRAP: BLA, IDR, CRA

    def fragment_start(self, payload: bytes) -> tuple[bytes, bool, bool, int]:
        fu = payload[2]
        header = bytes([(payload[0] & 0x81) | ((fu & 0x3F) << 1), payload[1]])
        return header, bool(fu & 0x80), bool(fu & 0x40), 3


CODECS: dict[str, _Codec] = {"h264": _H264(), "hevc": _H265()}


class Depacketizer:
    """Feed it RTP packets of one video track in order; it returns each access unit once complete,
    from the first keyframe on.

    A gap in sequence numbers loses the access unit being built and everything up to the next
    keyframe (a decoder fed a half picture shows garbage until then)."""

    def __init__(self, codec: str, parameter_sets: list[bytes] | None = None) -> None:
        self.codec = CODECS[codec]
        self._nals: list[bytes] = []
        self._fragment: bytearray | None = None
        self._timestamp: int | None = None
        self._last_seq: int | None = None
        self._broken = False
        # A camera may start anywhere in a GOP: what comes before the first keyframe cannot decode.
        self._waiting_for_keyframe = True
        self._parameters: dict[int, bytes] = {}
        for nal in parameter_sets or []:
            if nal:
                self._parameters[self.codec.nal_type(nal)] = nal
        self.lost = 0  # access units dropped after a gap

    def push(self, payload: bytes, sequence: int, timestamp: int, marker: bool) -> list[AccessUnit]:
        done: list[AccessUnit] = []
        if self._last_seq is not None and sequence != (self._last_seq + 1) & 0xFFFF:
            self._reset(broken=True)
        self._last_seq = sequence
        if self._timestamp is not None and timestamp != self._timestamp and self._nals:
            done += self._finish()  # a camera that never sets the marker: the timestamp moved on
        self._timestamp = timestamp
        try:
            self._read(payload)
        except IndexError:
            self._reset(broken=True)  # a truncated packet: as good as lost
        if marker:
            done += self._finish()
        return done

    def _read(self, payload: bytes) -> None:
        codec = self.codec
        if len(payload) < codec.header_len:
            raise IndexError("short payload")
        nal_type = codec.nal_type(payload)
        if nal_type == codec.aggregate:
            offset = codec.header_len
            while offset + 2 <= len(payload):
                size = int.from_bytes(payload[offset : offset + 2], "big")
                offset += 2
                if size == 0 or offset + size > len(payload):
                    raise IndexError("aggregation unit past the packet")
                self._nals.append(payload[offset : offset + size])
                offset += size
        elif nal_type == codec.fragment:
            header, start, end, offset = codec.fragment_start(payload)
            if start:
                self._fragment = bytearray(header)
            if self._fragment is None:
                return  # the start was lost: wait for a whole one
            self._fragment += payload[offset:]
            if end:
                self._nals.append(bytes(self._fragment))
                self._fragment = None
        else:
            self._nals.append(payload)

    def _finish(self) -> list[AccessUnit]:
        nals, self._nals, self._fragment = self._nals, [], None
        timestamp = self._timestamp or 0
        if self._broken:
            self._broken, self._waiting_for_keyframe = False, True
            self.lost += 1
            return []
        if not nals:
            return []
        types = [self.codec.nal_type(n) for n in nals]
        for nal, nal_type in zip(nals, types, strict=True):
            if nal_type in self.codec.parameter_types:
                self._parameters[nal_type] = nal
        keyframe = any(self.codec.is_keyframe(t) for t in types)
        if self._waiting_for_keyframe and not keyframe:
            self.lost += 1
            return []
        self._waiting_for_keyframe = False
        if keyframe:
            missing = [n for t, n in sorted(self._parameters.items()) if t not in types]
            nals = missing + nals
        return [AccessUnit(self.codec.name, b"".join(START + n for n in nals), keyframe, timestamp)]

    def _reset(self, broken: bool) -> None:
        self._nals, self._fragment = [], None
        self._broken = self._broken or broken
