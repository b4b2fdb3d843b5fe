"""Pre-encoded camera streams for the scale benchmark, made once and kept in a cache folder.

Real footage (PETS09-S2L1, people walking, from ../shared/data: read, never copied into the
repository) scaled to a camera's main stream (1920x1080@15, ~4 Mbit/s) and its sub stream
(640x360@15), H.264 with no B-frames and a keyframe every 2 s, as cameras send them. Each clip
is a file of access units, each a 4-byte big-endian length and the unit's Annex B bytes, which
bench/rtsp_clips.py loops without re-encoding.
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

FOOTAGE = Path(__file__).resolve().parents[2] / "shared" / "data" / "vtest_PETS09-S2L1_480x360.avi"
CACHE = Path(tempfile.gettempdir()) / "camstream-bench-clips"
FPS = 15
GOP = 30


@dataclass(frozen=True)
class Clip:
    name: str
    width: int
    height: int
    kbit_s: int

    @property
    def path(self) -> Path:
        return CACHE / f"{self.name}-{self.width}x{self.height}-{self.kbit_s}k.units"


MAIN = Clip("main", 1920, 1080, 4000)
SUB = Clip("sub", 640, 360, 512)


def make(clip: Clip) -> Path:
    """The clip's file, encoded now if the cache does not hold it."""
    if clip.path.exists():
        return clip.path
    if not FOOTAGE.exists():
        raise SystemExit(f"the benchmark's footage is missing: {FOOTAGE}")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = clip.path.with_suffix(".partial")
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = clip.width, clip.height, "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.framerate = Fraction(FPS)
    encoder.bit_rate = clip.kbit_s * 1000
    encoder.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(GOP), "keyint_min": str(GOP),
                       "sc_threshold": "0", "bf": "0", "maxrate": f"{clip.kbit_s}k",
                       "bufsize": f"{clip.kbit_s}k", "repeat-headers": "1"}  # fmt: skip
    with av.open(str(FOOTAGE)) as source, partial.open("wb") as out:
        stream = source.streams.video[0]
        rate = float(stream.average_rate or 10)
        index = 0
        for number, frame in enumerate(source.decode(stream)):
            # The footage's 10 fps to the camera's 15: each source frame shown for its share of time.
            while index / FPS < (number + 1) / rate:
                scaled = frame.reformat(clip.width, clip.height, "yuv420p")
                scaled.pts = index
                for packet in encoder.encode(scaled):
                    _write(out, bytes(packet))
                index += 1
        for packet in encoder.encode(None):
            _write(out, bytes(packet))
    partial.rename(clip.path)
    return clip.path


def _write(out: object, unit: bytes) -> None:
    out.write(struct.pack(">I", len(unit)) + unit)  # type: ignore[attr-defined]


def units(path: Path) -> list[bytes]:
    data = path.read_bytes()
    found, at = [], 0
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        found.append(data[at + 4 : at + 4 + length])
        at += 4 + length
    return found


if __name__ == "__main__":
    for clip in (MAIN, SUB):
        path = make(clip)
        found = units(path)
        seconds = len(found) / FPS
        print(f"{path}: {len(found)} units, {seconds:.1f} s, {8 * path.stat().st_size / seconds / 1e6:.2f} Mbit/s")
