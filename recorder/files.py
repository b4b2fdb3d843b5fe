"""The recorder's work on the segment files themselves: finding them, repairing a part file whose
writer was killed, deleting. Plain blocking file work: the service runs it in a thread."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import av

from shared import recordings
from shared.recordings import SegmentFile

log = logging.getLogger(__name__)

ORPHAN_AFTER_S = 5.0  # grace for a writer between creating its part file and locking it (microseconds)


@dataclass(frozen=True, slots=True)
class Found:
    segment: SegmentFile
    relative: str
    size: int


def finished(root: Path, days: list[str] | None) -> list[Found]:
    """Every finished segment under root (of `days` only, if given), oldest first per camera."""
    found = []
    for camera_id in recordings.recorded_cameras(root):
        for segment in recordings.camera_segments(root, camera_id, days):
            if segment.is_part:
                continue
            try:
                size = segment.path.stat().st_size
            except FileNotFoundError:  # deleted meanwhile
                continue
            found.append(Found(segment, str(segment.path.relative_to(root)), size))
    return found


def orphan_parts(root: Path, now_s: float) -> list[SegmentFile]:
    """Part files untouched for ORPHAN_AFTER_S (whose writer may be gone: repair checks its lock)."""
    found = []
    for camera_id in recordings.recorded_cameras(root):
        for segment in recordings.camera_segments(root, camera_id):
            try:
                if segment.is_part and now_s - segment.path.stat().st_mtime > ORPHAN_AFTER_S:
                    found.append(segment)
            except FileNotFoundError:
                continue
    return found


def repair(root: Path, part: SegmentFile) -> Path | None:
    """Give a part file cut short its final name, keeping every whole frame it holds (remuxed into a
    clean file; it starts at a keyframe), or delete it if it holds none. None if its writer still
    holds it, or nothing is left."""
    with open(part.path, "rb") as held:
        try:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return None  # its writer is alive
            raise
        repaired = part.path.with_name(part.path.name.replace(recordings.PART_SUFFIX, ".repair.mp4"))
        try:
            duration_s = _remux_readable(part.path, repaired)
        except (OSError, av.FFmpegError) as e:
            log.warning("camera=%d %s cannot be read (%s): deleted", part.camera_id, part.path.name, e)
            duration_s = 0.0
        if duration_s <= 0:
            repaired.unlink(missing_ok=True)
            part.path.unlink(missing_ok=True)
            return None
        final = recordings.finished_path(root, part.camera_id, part.start_ms, part.start_ms + round(duration_s * 1000))
        os.replace(repaired, final)
        part.path.unlink(missing_ok=True)
        log.info("camera=%d %s cut short: kept %.1f s as %s", part.camera_id, part.path.name, duration_s, final.name)
        return final


def _remux_readable(source: Path, target: Path) -> float:
    """Copy every packet of `source` that can be read (a fragment cut short ends it); the duration kept."""
    packets = []
    with av.open(str(source)) as container:
        video = container.streams.video[0] if container.streams.video else None
        if video is None:
            return 0.0
        streams = [video, *container.streams.audio[:1]]
        try:
            for packet in container.demux(streams):
                if packet.size:
                    packets.append(packet)
        except (av.FFmpegError, EOFError):  # the cut: keep what came before
            pass
        pictures = [p for p in packets if p.stream is video and p.pts is not None]
        if not pictures:
            return 0.0
        times = sorted(float(p.pts * video.time_base) for p in pictures)  # type: ignore[operator]
        frame_s = (times[-1] - times[0]) / max(len(times) - 1, 1) or 1 / 15
        duration_s = times[-1] - times[0] + frame_s
        with av.open(str(target), "w", format="mp4",
                     options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as out:  # fmt: skip
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in packets:
                if packet.dts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    return duration_s


def delete(path: Path) -> None:
    """Delete a segment file, and its day folder once empty."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty (or gone)
        path.parent.rmdir()
