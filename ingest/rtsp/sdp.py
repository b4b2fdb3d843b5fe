"""The parts of a camera's SDP (RFC 8866) that reading its streams needs: each media section's
codec, payload type, clock rate, control URL and parameter sets."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import urljoin

VIDEO_CODECS = {"H264": "h264", "H265": "hevc"}
AUDIO_CODECS = {"PCMU": "pcm_mulaw", "PCMA": "pcm_alaw", "MPEG4-GENERIC": "aac"}
# Static payload types (RFC 3551) that cameras send without an rtpmap.
STATIC = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}


@dataclass
class Track:
    kind: str  # "video" or "audio"
    payload_type: int
    encoding: str  # as in the rtpmap, upper case: H264, H265, PCMU, PCMA, MPEG4-GENERIC
    clock_rate: int
    control: str  # absolute URL for SETUP
    fmtp: dict[str, str] = field(default_factory=dict)
    channels: int = 1

    @property
    def codec(self) -> str | None:
        """FFmpeg's name for the codec, or None when camstream does not read it."""
        return (VIDEO_CODECS | AUDIO_CODECS).get(self.encoding)

    def parameter_sets(self) -> list[bytes]:
        """H.264 SPS/PPS (sprop-parameter-sets) or H.265 VPS/SPS/PPS (sprop-vps, -sps, -pps) from the fmtp."""
        values = (
            self.fmtp.get("sprop-parameter-sets", "").split(",")
            if self.encoding == "H264"
            else [self.fmtp.get(k, "") for k in ("sprop-vps", "sprop-sps", "sprop-pps")]
        )
        found = []
        for value in values:
            try:
                if value.strip():
                    found.append(base64.b64decode(value.strip() + "=" * (-len(value.strip()) % 4)))
            except (binascii.Error, ValueError):
                continue  # a camera's broken parameter set: the stream's own in-band ones still work
        return found


def parse_sdp(text: str, base_url: str) -> list[Track]:
    """Every media section with a payload type we can name. Raises ValueError on a malformed SDP."""
    session_control = base_url
    tracks: list[Track] = []
    current: Track | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise ValueError(f"malformed media line: {line[:80]}")
            payload = int(parts[3]) if parts[3].isdigit() else -1
            encoding, rate = STATIC.get(payload, ("", 90000))
            current = Track(parts[0], payload, encoding, rate, session_control)
            tracks.append(current)
        elif kind == "a" and value.startswith("control:"):
            control = value.removeprefix("control:").strip()
            if current is None:
                session_control = _absolute(base_url, control)
            else:
                current.control = _absolute(session_control, control)
        elif kind == "a" and current is not None and value.startswith("rtpmap:"):
            number, _, mapping = value.removeprefix("rtpmap:").partition(" ")
            if number.strip() == str(current.payload_type):
                name, _, rest = mapping.partition("/")
                clock, _, channel_count = rest.partition("/")
                current.encoding = name.strip().upper()
                current.clock_rate = int(clock) if clock.isdigit() else current.clock_rate
                current.channels = int(channel_count) if channel_count.isdigit() else 1
        elif kind == "a" and current is not None and value.startswith("fmtp:"):
            _, _, parameters = value.removeprefix("fmtp:").partition(" ")
            for item in parameters.split(";"):
                key, _, setting = item.strip().partition("=")
                if key:
                    current.fmtp[key.strip().lower()] = setting.strip()
    return [t for t in tracks if t.encoding]


def _absolute(base: str, control: str) -> str:
    if control == "*":
        return base
    if "://" in control:
        return control
    return urljoin(base if base.endswith("/") else base + "/", control)
