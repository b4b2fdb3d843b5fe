"""Recording segments written by a camera's own process: a real RTSP camera, real ingest, the
files on disk read back with PyAV."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
import redis

from shared import keys, recordings
from shared.db.engine import create_engine
from shared.db.recordings import RecordingIndex
from shared.db.url import database_url as url_of
from shared.embedded_redis import EmbeddedRedis
from shared.packets import PacketMessage
from shared.settings import Settings
from shared.status import CameraState
from tests.support import (
    RtspServer,
    ServiceRun,
    camera_pids,
    camera_status,
    redis_outage,
    wait_until,
    want_packets,
    write_camera_file,
)
from tests.support.disks import tmpfs

pytestmark = pytest.mark.rtsp


def _nal_units(annex_b: bytes) -> list[bytes]:
    units, start = [], annex_b.find(b"\x00\x00\x01")
    while start >= 0:
        nxt = annex_b.find(b"\x00\x00\x01", start + 3)
        units.append(annex_b[start + 3 : nxt if nxt >= 0 else len(annex_b)].rstrip(b"\x00"))
        start = nxt
    return units


def _length_prefixed(sample: bytes) -> list[bytes]:
    units, i = [], 0
    while i + 4 <= len(sample):
        size = int.from_bytes(sample[i : i + 4], "big")
        units.append(sample[i + 4 : i + 4 + size])
        i += 4 + size
    return units


def segment_units(path: Path) -> list[tuple[bool, list[bytes]]]:
    """(keyframe, NAL units) of each video sample in an MP4 file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(p.is_keyframe, _length_prefixed(bytes(p))) for p in container.demux(stream) if p.size]


def test_the_cameras_own_stream_is_written_to_abutting_segments_by_stream_copy(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], rdb: redis.Redis, tmp_path: Path,
    _data_dir: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15, gop=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "rec", "source": server.url(), "fps": 15,
                                            "record": {"mode": "continuous"}}])  # fmt: skip
    root = _data_dir / "recordings"
    want_packets(rdb, 1)
    ingest(cameras, env={"CAMSTREAM_RECORDINGS_SEGMENT_S": "2", "CAMSTREAM_PACKET_STREAM_S": "30"})
    wait_until(lambda: len([s for s in recordings.camera_segments(root, 1) if not s.is_part]) >= 4, 30.0,
               what="four finished segments")  # fmt: skip
    segments = [s for s in recordings.camera_segments(root, 1) if not s.is_part]
    for before, after in itertools.pairwise(segments):
        assert before.end_ms == after.start_ms, "consecutive segments abut"
    for segment in segments:
        assert segment.end_ms is not None and 1900 <= segment.end_ms - segment.start_ms <= 2200
    # Each segment starts at a keyframe, and its pictures are the camera's access units, NAL unit for NAL unit.
    camera = {tuple(_nal_units(m.data)) for m in (PacketMessage.from_entry(f) for _i, f in
                                                  rdb.xrange(keys.packet_stream(1)))}  # fmt: skip
    written = [units for s in segments[1:3] for units in segment_units(s.path)]
    assert written[0][0], "a segment starts at a keyframe"
    assert len(written) >= 55
    assert all(tuple(units) in camera for _key, units in written)


def test_a_segment_cut_short_by_a_kill_is_repaired_and_indexed(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    rdb: redis.Redis, tmp_path: Path, _data_dir: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, gop=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "rec", "source": server.url(),
                                            "record": {"mode": "continuous"}}])  # fmt: skip
    root = _data_dir / "recordings"
    ingest(cameras, env={"CAMSTREAM_RECORDINGS_SEGMENT_S": "30"})
    wait_until(lambda: [s for s in recordings.camera_segments(root, 1) if s.is_part and s.path.stat().st_size > 20000],
               20.0, what="a part file with a few GOPs")  # fmt: skip
    pids = wait_until(lambda: camera_pids(rdb, [1]), 10.0, what="the camera's pid")
    os.kill(pids[0], signal.SIGKILL)
    part = next(s for s in recordings.camera_segments(root, 1) if s.is_part)
    units = segment_units(part.path)
    assert units and units[0][0], "the GOPs written before the kill are readable"
    recorder(cameras)
    # The recorder gives it its final name with what it holds; the camera's new process records on.
    repaired = wait_until(lambda: next((s for s in recordings.camera_segments(root, 1)
                                        if s.start_ms == part.start_ms and not s.is_part), None),
                          20.0, what="the cut segment repaired")  # fmt: skip
    assert not part.path.exists()
    assert [u for _k, u in segment_units(repaired.path)] == [u for _k, u in units[: len(segment_units(repaired.path))]]
    assert len(segment_units(repaired.path)) >= len(units) - 15, "every whole GOP kept"
    assert any(s.is_part and s.start_ms > part.start_ms for s in recordings.camera_segments(root, 1))
    rows = asyncio.run(_indexed(_data_dir))
    assert str(repaired.path.relative_to(root)) in rows, "the repaired segment is in the index"


async def _indexed(data: Path) -> set[str]:
    engine = create_engine(url_of(Settings(data_dir=data)))
    try:
        return {s.path for s in await RecordingIndex(engine).everything()}
    finally:
        await engine.dispose()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs for recordings."""
    with tmpfs(tmp_path / "small-disk", "size=6m") as mount:
        yield mount


def test_a_full_disk_pauses_recording_and_it_resumes_when_there_is_room(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], rdb: redis.Redis, tmp_path: Path,
    small_disk: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, gop=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "rec", "source": server.url(),
                                            "record": {"mode": "continuous"}}])  # fmt: skip
    ingest(cameras, env={"CAMSTREAM_RECORDINGS_DIR": str(small_disk), "CAMSTREAM_RECORDINGS_SEGMENT_S": "2"})
    wait_until(lambda: any(not s.is_part for s in recordings.camera_segments(small_disk, 1)), 20.0,
               what="a first segment")  # fmt: skip
    filler = small_disk / "another-program.bin"
    with open(filler, "wb") as out, contextlib.suppress(OSError):  # another program fills the disk
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    status = wait_until(lambda: (s := camera_status(rdb, 1)) and s.recording == "paused" and s, 20.0,
                        what="recording paused")  # fmt: skip
    assert status.recording_error == "disk full" and status.state is CameraState.STREAMING
    frames = rdb.xinfo_stream(keys.frame_stream(1))["last-generated-id"]
    wait_until(lambda: rdb.xinfo_stream(keys.frame_stream(1))["last-generated-id"] != frames, 5.0,
               what="frames still flowing (live view and analysis carry on)")  # fmt: skip
    before = {s.start_ms for s in recordings.camera_segments(small_disk, 1)}
    filler.unlink()  # room again
    wait_until(lambda: (s := camera_status(rdb, 1)) and s.recording == "recording", 20.0, what="recording again")
    wait_until(lambda: any(not s.is_part and s.start_ms not in before
                           for s in recordings.camera_segments(small_disk, 1)), 20.0, what="new segments")  # fmt: skip


def test_a_30_s_redis_outage_leaves_no_gap_in_the_recording(
    rtsp_server: Callable[..., RtspServer], private_redis: EmbeddedRedis, tmp_path: Path, _data_dir: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, gop=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "rec", "source": server.url(),
                                            "record": {"mode": "continuous"}}])  # fmt: skip
    root = _data_dir / "recordings"
    run = ServiceRun("ingest", private_redis.url, cameras, tmp_path / "ingest.log",
                     env={"CAMSTREAM_RECORDINGS_SEGMENT_S": "2"})  # fmt: skip
    try:
        wait_until(lambda: any(not s.is_part for s in recordings.camera_segments(root, 1)), 20.0,
                   what="a first segment")  # fmt: skip
        frozen_at = time.time()
        redis_outage(private_redis, "frozen", 30.0)
        thawed_at = time.time()
        wait_until(lambda: any(not s.is_part and s.start_ms / 1000 > thawed_at + 1
                               for s in recordings.camera_segments(root, 1)), 15.0, what="segments after")  # fmt: skip
    finally:
        run.stop()
    finished = [s for s in recordings.camera_segments(root, 1) if not s.is_part]
    covering = [s for s in finished if s.end_ms is not None and s.end_ms / 1000 > frozen_at - 2
                and s.start_ms / 1000 < thawed_at + 2]  # fmt: skip
    assert covering[0].start_ms / 1000 <= frozen_at and covering[-1].end_ms / 1000 >= thawed_at  # type: ignore[operator]
    for before, after in itertools.pairwise(covering):
        assert before.end_ms == after.start_ms, f"a gap of {(after.start_ms - before.end_ms)} ms"  # type: ignore[operator]
