"""A small recordings disk filled by another program: recording pauses, said on the status within
a second and as a `recording_gap`; footage without events goes to make room, footage with events
stays; footage deleted before its retention ran out is a `recording_gap` of its own, which the
coverage names as the gap's cause; the floor adapts to the small disk, and a floor that can never
be met is refused at start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from gateway.coverage import camera_coverage
from shared import keys, recordings
from shared.cameras import load_cameras
from shared.coverage import Coverage
from shared.db.recordings import RecordingIndex
from shared.detections import Box, Event, EventPhase, EventType
from shared.process import opened_database
from shared.settings import Settings
from tests.support import (
    ROOT,
    RtspServer,
    ServiceRun,
    camera_status,
    publish_events,
    stored_event,
    wait_until,
    write_camera_file,
)
from tests.support.disks import tmpfs
from tests.support.segments import write_sample_segment

pytestmark = pytest.mark.rtsp


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB file system for recordings: the default 2 GB floor could never be met on it."""
    with tmpfs(tmp_path / "small-disk", "size=64m") as mount:
        yield mount


def _seed(root: Path, sample: Path, count: int) -> list[Path]:
    """Old footage of camera 1: `count` 10 s segments ending ten minutes ago."""
    start_ms = int((time.time() - 600 - count * 10) * 1000)
    paths = []
    for i in range(count):
        path = recordings.finished_path(root, 1, start_ms + i * 10_000, start_ms + (i + 1) * 10_000)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, path)
        paths.append(path)
    return paths


def _fill(disk: Path) -> Path:
    filler = disk / "another-program.bin"
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def test_a_small_disk_filled_by_another_program_keeps_event_footage_and_says_so_at_once(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    rdb: redis.Redis, redis_url: str, tmp_path: Path, small_disk: Path,
) -> None:  # fmt: skip
    sample = write_sample_segment(tmp_path / "sample.mp4")
    seeded = _seed(small_disk, sample, 6)
    with_events, without = seeded[:3], seeded[3:]
    first, last = recordings.parse(with_events[0], 1), recordings.parse(with_events[-1], 1)
    assert first is not None and last is not None
    # a person through the first three segments, ending 8 s before the fourth (post_s widens it by 5 s)
    person = Event("1-00000000000000a1", 1, EventType.PERSON, EventPhase.END, first.start_ms / 1000 + 1,
                   last.start_ms / 1000 + 2, 0.9, Box(1, 2, 3, 4), 30, False, 0.0)  # fmt: skip
    publish_events(redis_url, [(person, None)])
    server = rtsp_server(size="640x360", fps=15, gop=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "rec", "source": server.url(),
                                            "record": {"mode": "continuous"}}])  # fmt: skip
    env = {"CAMSTREAM_RECORDINGS_DIR": str(small_disk), "CAMSTREAM_RECORDINGS_SEGMENT_S": "2"}
    ingest(cameras, env=env)
    keeper = recorder(cameras, env=env)
    wait_until(lambda: (s := camera_status(rdb, 1)) and s.recording == "recording", 30.0, what="recording")
    wait_until(lambda: len([s for s in recordings.camera_segments(small_disk, 1) if not s.is_part]) >= 8, 30.0,
               what="the camera's own segments beside the old ones")  # fmt: skip
    assert all(p.exists() for p in seeded), "a 2 GB floor on a 64 MB disk: it adapts, and deletes nothing"

    filler = _fill(small_disk)  # another program takes every byte
    full_at, full_wall = time.monotonic(), time.time()
    wait_until(lambda: (s := camera_status(rdb, 1)) and s.recording == "paused", 15.0, interval_s=0.02,
               what="recording paused")  # fmt: skip
    paused_s = time.monotonic() - full_at
    print(f"recording paused on the status {paused_s:.2f} s after the disk filled")
    assert paused_s <= 1.0, f"the status said paused {paused_s:.2f} s after the disk filled"
    assert camera_status(rdb, 1).recording_error == "disk full"
    gap = wait_until(lambda: _gap_event(rdb, EventPhase.START, "disk full"), 5.0, what="a recording_gap event")
    print(f"recording_gap event published {gap.published_at_s - full_wall:.2f} s after the disk filled")
    assert gap.reason == "disk full" and gap.camera_id == 1
    assert stored_event(gap.id)[0] is not None, "the gap is in the history"
    wait_until(lambda: not any(p.exists() for p in without), 20.0, what="footage without events deleted for room")
    # Deleted ten minutes old, well before its 7 days: a gap of its own, over the footage deleted.
    deleted = [recordings.parse(p, 1) for p in without]
    early = wait_until(lambda: _gap_event(rdb, EventPhase.END, "younger than its 7 days deleted"), 10.0,
                       what="a recording_gap for footage deleted early")  # fmt: skip
    assert early.reason is not None and "under the floor" in early.reason, early.reason
    assert early.ended_at_s is not None
    assert all(d is not None and early.started_at_s <= d.start_ms / 1000 < early.ended_at_s for d in deleted)
    judged = _coverage(cameras, deleted[0].start_ms / 1000 - 5, deleted[-1].end_ms / 1000)  # type: ignore[union-attr]
    assert [g.cause for g in judged.gaps if g.end_s - g.start_s >= 20] == [early.reason], judged.gaps
    wait_until(lambda: "other files fill it" in keeper.log_text(), 10.0, what="the recorder saying why")
    time.sleep(2 * 2.0)  # two more passes
    assert all(p.exists() for p in with_events), "footage with events is kept while other files fill the disk"
    log = keeper.log_text()
    assert " WARNING " in log and "under the floor" in log
    filler.unlink()  # room again: recording resumes, and the gap ends
    ended = wait_until(lambda: _gap_event(rdb, EventPhase.END, "disk full"), 20.0, what="the recording_gap's end")
    assert ended.id == gap.id and ended.ended_at_s is not None and ended.ended_at_s > gap.started_at_s


def _gap_event(rdb: redis.Redis, phase: EventPhase, reason: str) -> Event | None:
    for _id, fields in rdb.xrange(keys.EVENTS_STREAM):  # type: ignore[union-attr]
        event = Event.from_entry(fields)
        if event.type is EventType.RECORDING_GAP and event.phase is phase and reason in (event.reason or ""):
            return event
    return None


def _coverage(cameras_file: Path, since_s: float, until_s: float) -> Coverage:
    """What the coverage API says of camera 1 (gateway.coverage), from the test's database."""
    [camera] = load_cameras(cameras_file, os.environ).cameras

    async def judge() -> Coverage:
        async with opened_database(Settings()) as engine:
            return await camera_coverage(RecordingIndex(engine), camera, since_s, until_s)

    return asyncio.run(judge())


def test_a_floor_that_can_never_be_met_is_refused_at_start(small_disk: Path) -> None:
    env = {**os.environ, "CAMSTREAM_RECORDINGS_DIR": str(small_disk), "CAMSTREAM_RECORDINGS_MIN_FREE_GB": "0.05"}
    started = subprocess.run([sys.executable, "-m", "recorder"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert started.returncode == 2, (started.returncode, started.stderr[-2000:])
    assert "CAMSTREAM_RECORDINGS_MIN_FREE_GB=0.05 is half or more of the 0.1 GB file system" in started.stderr
    assert "Traceback" not in started.stderr
