"""Clips: a time range of a camera's recording as one MP4, by stream copy from its segments.

The clip starts at the keyframe at or before the range's start (so its first picture decodes)
and ends before the range's end. It is a plain MP4 with its index in front (faststart), so a
`<video>` element plays it at once and seeks in it with HTTP Range requests. A clip is made
once into a cache folder and served from there for CACHE_S (a player's Range requests all
hit the same file); older clips are deleted when the next one is made.

The cache is bounded, by count (MAX_CLIPS) and by bytes (CAMSTREAM_CLIP_CACHE_MB): the oldest
clips go first, and a range whose footage alone passes the byte bound is refused. It shares the
disk with the recordings, whose retention deletes the oldest footage when free space falls below
CAMSTREAM_RECORDINGS_MIN_FREE_GB: a clip that would take the disk below that floor is refused, so
footage is never deleted to make room for a clip a viewer asked for. Footage on another host's disk
is fetched into the cache for the cut (gateway.footage), and deleted once the clip is made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from gateway.footage import FootageSource
from shared.db.recordings import Segment

CACHE_S = 600.0
MAX_CLIPS = 32
MB = 1024 * 1024


class NoFootage(Exception):
    """Nothing recorded in the range: a 404 with this text."""


class NoRoom(Exception):
    """The clip would pass the cache's bound or the disk's free-space floor: `status` (413 or 507)
    with this text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def clip_path(cache: Path, camera_id: int, start_s: float, end_s: float) -> Path:
    return cache / f"{camera_id}-{int(start_s * 1000)}-{int(end_s * 1000)}.mp4"


def cached_or_made(cache: Path, source: FootageSource, segments: list[Segment], camera_id: int, start_s: float,  # noqa: PLR0913 - the clip (camera, range), its segments and the disk's bounds
                   end_s: float, max_bytes: int, keep_free_bytes: int) -> Path:  # fmt: skip
    """The clip's file, made now unless made lately. Raises NoFootage, NoRoom, gateway.footage.Unreachable.
    Blocking: run in a thread, one at a time (the bounds are checked, then the clip written)."""
    target = clip_path(cache, camera_id, start_s, end_s)
    if target.exists() and time.time() - target.stat().st_mtime < CACHE_S / 2:
        return target
    # The footage the range meets: more than the clip will hold (it starts at a keyframe, ends at end_s).
    segments = [s for s in segments if s.end_ms / 1000 > start_s and s.start_ms / 1000 < end_s]
    estimate = sum(s.bytes for s in segments)
    if estimate > max_bytes:
        raise NoRoom(413, f"the range holds {estimate / MB:.0f} MB of footage, more than the clip cache's "
                          f"{max_bytes / MB:.0f} MB (CAMSTREAM_CLIP_CACHE_MB): ask for a shorter range")  # fmt: skip
    cache.mkdir(parents=True, exist_ok=True)
    fetched = source.remote(segments)  # copies of other hosts' segments sit in the cache while it is cut
    _make_room(cache, estimate * 2 if fetched else estimate, max_bytes, keep_free_bytes)
    partial = target.with_suffix(f".{os.getpid()}.{time.monotonic_ns()}.tmp")
    fetch_dir = cache / f"{partial.name}.fetched"
    try:
        fetch_dir.mkdir()
        make_clip(source.files(segments, fetch_dir), segments, start_s, end_s, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(fetch_dir, ignore_errors=True)
    return target


def _make_room(cache: Path, estimate: int, max_bytes: int, keep_free_bytes: int) -> None:
    """Delete expired clips, then the oldest, until one more of `estimate` bytes fits the cache's
    bounds and leaves the disk its free-space floor. Raises NoRoom when even an empty cache would not."""
    now = time.time()
    clips: list[tuple[float, int, Path]] = []  # (modified, bytes, path), oldest first
    for path in cache.iterdir():
        if not path.is_file():
            continue  # another clip's fetched footage: its maker deletes it
        with contextlib.suppress(OSError):
            stat = path.stat()
            if now - stat.st_mtime > CACHE_S:
                path.unlink()
            else:
                clips.append((stat.st_mtime, stat.st_size, path))
    clips.sort()

    def fits() -> bool:
        used = sum(size for _, size, _ in clips)
        free = shutil.disk_usage(cache).free
        return len(clips) < MAX_CLIPS and used + estimate <= max_bytes and free - estimate >= keep_free_bytes

    while not fits():
        if not clips:
            raise NoRoom(507, "not enough free disk for this clip above the recordings' free-space floor "
                              "(CAMSTREAM_RECORDINGS_MIN_FREE_GB): footage is not deleted for a clip")  # fmt: skip
        _, _, oldest = clips.pop(0)
        oldest.unlink(missing_ok=True)


def _first_keyframe_s(file: Path, segment: Segment, start_s: float) -> float:
    """Wall-clock time of the segment's last keyframe at or before start_s (its first if none is)."""
    found = segment.start_ms / 1000
    if not file.exists():  # deleted by retention meanwhile
        return found
    with av.open(str(file)) as container:
        video = container.streams.video[0]
        for packet in container.demux(video):
            if packet.pts is None or not packet.is_keyframe:
                continue
            wall = segment.start_ms / 1000 + float(packet.pts * video.time_base)  # type: ignore[operator]
            if wall > start_s:
                break
            found = wall
    return found


def make_clip(file_of: Callable[[Segment], Path], segments: list[Segment], start_s: float, end_s: float,
              target: Path) -> None:  # fmt: skip
    """Write the clip of [start_s, end_s) from `segments` (one camera's, by start; each read from
    file_of(segment)) to `target`."""
    segments = [s for s in segments if s.end_ms / 1000 > start_s and s.start_ms / 1000 < end_s]
    if not segments:
        raise NoFootage("nothing recorded in that range")
    base_s = _first_keyframe_s(file_of(segments[0]), segments[0], start_s)
    written = 0
    last: dict[str, float] = {}  # per stream, the last time written: a muxer refuses time going back
    with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        streams: dict[str, av.stream.Stream] = {}
        for segment in segments:
            segment_s = segment.start_ms / 1000
            if not file_of(segment).exists():  # deleted by retention meanwhile
                continue
            with av.open(str(file_of(segment))) as source:
                inputs = [*source.streams.video[:1], *source.streams.audio[:1]]
                for stream in inputs:
                    if stream.type not in streams:
                        if written:  # a stream that appears mid-clip cannot be added once writing began
                            continue
                        streams[stream.type] = out.add_stream_from_template(stream)
                for packet in source.demux(inputs):
                    if packet.pts is None or not packet.size or packet.stream.type not in streams:
                        continue
                    time_base = packet.time_base or Fraction(1, 90000)
                    wall = segment_s + float(packet.pts * time_base)
                    kind = packet.stream.type
                    if wall < base_s or wall >= end_s or wall <= last.get(kind, -1.0):
                        continue
                    last[kind] = wall
                    packet.pts = packet.dts = round((wall - base_s) / time_base)
                    packet.stream = streams[kind]
                    out.mux(packet)
                    written += 1
    if not written:
        raise NoFootage("nothing recorded in that range")
