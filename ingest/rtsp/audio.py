"""A camera's audio out of RTP: G.711 (RFC 3551) as it is, AAC from `mpeg4-generic` packets in
AAC-hbr mode (RFC 3640): each packet's AU headers give the sizes of the AAC frames it carries."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.rtsp.sdp import Track

AAC_SAMPLES = 1024  # per AAC frame: the RTP timestamp step between frames of one packet


@dataclass(frozen=True, slots=True)
class AudioUnit:
    codec: str  # FFmpeg's name: pcm_mulaw, pcm_alaw, aac
    data: bytes
    rtp_timestamp: int


class AudioDepacketizer:
    def __init__(self, track: Track) -> None:
        if track.codec not in ("pcm_mulaw", "pcm_alaw", "aac"):
            raise ValueError(f"no audio depacketizer for {track.encoding}")
        self.codec = track.codec
        self.sample_rate = track.clock_rate
        self.channels = track.channels
        self.size_bits = int(track.fmtp.get("sizelength", "13") or 13)
        self.index_bits = int(track.fmtp.get("indexlength", "3") or 3)
        try:
            self.config = bytes.fromhex(track.fmtp.get("config", ""))  # AAC's AudioSpecificConfig
        except ValueError:
            self.config = b""
        self.dropped = 0

    def push(self, payload: bytes, timestamp: int) -> list[AudioUnit]:
        if self.codec != "aac":
            return [AudioUnit(self.codec, payload, timestamp)] if payload else []
        if len(payload) < 2:
            self.dropped += 1
            return []
        header_bits = int.from_bytes(payload[:2], "big")
        header_bytes = (header_bits + 7) // 8
        per_header = self.size_bits + self.index_bits
        if per_header <= 0 or 2 + header_bytes > len(payload):
            self.dropped += 1
            return []
        headers = int.from_bytes(payload[2 : 2 + header_bytes], "big") if header_bytes else 0
        count = header_bits // per_header
        offset, units = 2 + header_bytes, []
        for index in range(count):
            shift = header_bytes * 8 - (index + 1) * per_header
            size = (headers >> (shift + self.index_bits)) & ((1 << self.size_bits) - 1)
            if offset + size > len(payload):  # a frame split over packets: rare for audio, dropped
                self.dropped += 1
                break
            units.append(AudioUnit("aac", payload[offset : offset + size], timestamp + index * AAC_SAMPLES))
            offset += size
        return units
