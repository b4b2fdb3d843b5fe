"""The recorder's judgement over real segment files and a real database (SQLite and PostgreSQL):
what each mode keeps, retention by age and by size (oldest first, events last), the index
rebuilt from the files."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import clips
from gateway.footage import FootageSource
from recorder.service import DECIDE_LAG_S, Recorder
from shared import recordings
from shared.db.engine import create_engine
from shared.db.events import EventHistory, StoredEvent
from shared.db.recordings import RecordingIndex, Segment
from shared.db.startup import CameraSource, prepare
from shared.db.url import database_url as url_of
from shared.detections import Event, EventPhase, EventType
from shared.embedded_redis import free_port
from shared.settings import Settings
from tests.support import write_camera_file
from tests.support.segments import write_sample_segment

DAY_S = 86400
START_S = 1_700_000_000.0  # a fixed day: file names and dates are what the test says


@pytest.fixture(scope="module")
def sample_segment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 10 s fMP4 segment (H.264, 64x64): copied under each name a test needs."""
    return write_sample_segment(tmp_path_factory.mktemp("sample") / "sample.mp4")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url_of(Settings(database_url=SecretStr(database_url))))
    yield engine
    await engine.dispose()


async def _recorder(engine: AsyncEngine, tmp_path: Path, record: dict[str, object], **settings: object) -> Recorder:
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "one", "source": "demo:", "record": record},
        {"id": 2, "name": "two", "source": "demo:", "record": {"mode": "continuous"}},
    ])  # fmt: skip
    await prepare(engine, CameraSource.read(cameras, os.environ), os.environ)
    redis_url = SecretStr(f"redis://127.0.0.1:{free_port()}/0")  # no Redis: no duties, nothing touched
    config = Settings(**{"recordings_dir": tmp_path / "recordings", "recordings_min_free_gb": 0.0,  # type: ignore[arg-type]
                         "redis_url": redis_url, **settings})  # fmt: skip
    return Recorder(config, engine)


def _segments(root: Path, sample: Path, camera_id: int, starts_s: list[float], length_s: float = 10.0) -> None:
    for start_s in starts_s:
        start_ms = int(start_s * 1000)
        path = recordings.finished_path(root, camera_id, start_ms, start_ms + int(length_s * 1000))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, path)


async def _event(
    engine: AsyncEngine, kind: EventType, start_s: float, end_s: float, camera: int = 1, label: str | None = None
) -> None:
    event = Event(f"{kind}-{start_s}", camera, kind, EventPhase.END, start_s, end_s, 0.9, None, 3, False, end_s,
                  label=label)  # fmt: skip
    await EventHistory(engine).store([StoredEvent(event, None)])


def _kept(root: Path, camera_id: int) -> list[float]:
    return [s.start_ms / 1000 for s in recordings.camera_segments(root, camera_id)]


async def test_events_mode_keeps_footage_around_person_events_with_pre_and_post_capture(
    engine: AsyncEngine, tmp_path: Path, sample_segment: Path
) -> None:
    recorder = await _recorder(engine, tmp_path, {"mode": "events", "pre_s": 5, "post_s": 5})
    root = recorder.root
    starts = [START_S + 10 * i for i in range(12)]  # 120 s in 10 s segments
    _segments(root, sample_segment, 1, starts)
    _segments(root, sample_segment, 2, starts[:3])
    await _event(engine, EventType.PERSON, START_S + 33, START_S + 45)  # meets [28, 50]: segments 20, 30, 40
    await _event(engine, EventType.MOTION, START_S + 82, START_S + 84)  # motion: not kept in events mode
    await recorder.one_pass(now_s=START_S + 60)  # only what ended before 60 - pre - lag is judged yet
    judged_by = START_S + 60 - 5 - DECIDE_LAG_S
    assert _kept(root, 1) == [s for s in starts if s + 10 > judged_by or s in (starts[2], starts[3], starts[4])]
    await recorder.one_pass(now_s=START_S + 200)
    assert _kept(root, 1) == [START_S + 20, START_S + 30, START_S + 40]
    assert _kept(root, 2) == starts[:3], "a continuous camera keeps everything"
    index = {(s.camera_id, s.start_ms / 1000): s for s in await RecordingIndex(engine).everything()}
    assert len(index) == 6 and all(s.decided for s in index.values())
    assert index[(1, START_S + 30)].events and not index[(2, START_S)].events


async def test_events_mode_by_label_keeps_the_cars_footage_not_the_dogs(
    engine: AsyncEngine, tmp_path: Path, sample_segment: Path
) -> None:
    recorder = await _recorder(engine, tmp_path, {"mode": "events", "event_types": ["car"], "pre_s": 0, "post_s": 0})
    _segments(recorder.root, sample_segment, 1, [START_S + 10 * i for i in range(6)])
    await _event(engine, EventType.OBJECT, START_S + 12, START_S + 14, label="car")
    await _event(engine, EventType.OBJECT, START_S + 32, START_S + 34, label="dog")
    await _event(engine, EventType.PERSON, START_S + 42, START_S + 44)
    await recorder.one_pass(now_s=START_S + 200)
    assert _kept(recorder.root, 1) == [START_S + 10]


async def test_motion_mode_keeps_footage_around_any_event(
    engine: AsyncEngine, tmp_path: Path, sample_segment: Path
) -> None:
    recorder = await _recorder(engine, tmp_path, {"mode": "motion", "pre_s": 0, "post_s": 0})
    _segments(recorder.root, sample_segment, 1, [START_S + 10 * i for i in range(6)])
    await _event(engine, EventType.MOTION, START_S + 22, START_S + 24)
    await recorder.one_pass(now_s=START_S + 200)
    assert _kept(recorder.root, 1) == [START_S + 20]


async def test_retention_by_age_then_by_size_oldest_first_events_last_and_reindex_agrees(
    engine: AsyncEngine, tmp_path: Path, sample_segment: Path
) -> None:
    record = {"mode": "continuous", "retain_days": 2, "events_retain_days": 5, "pre_s": 0, "post_s": 0}
    size = (await asyncio.to_thread(sample_segment.stat)).st_size
    recorder = await _recorder(engine, tmp_path, record, recordings_max_gb=(6.5 * size) / 1024**3)
    root = recorder.root
    days = [START_S + d * DAY_S for d in range(8)]  # one segment a day, for eight days
    _segments(root, sample_segment, 1, days)
    await _event(engine, EventType.PERSON, days[1] + 2, days[1] + 4)
    await _event(engine, EventType.FACE, days[5] + 2, days[5] + 4)
    now = days[7] + 100
    await recorder.one_pass(now)
    # Without events: older than 2 days goes (days 0-4); with events: older than 5 days (day 1).
    assert _kept(root, 1) == [days[5], days[6], days[7]]
    _segments(root, sample_segment, 1, [days[7] + 10 * i for i in range(1, 6)])  # five more today: 8 in all
    await recorder.one_pass(now)
    # Over the cap (6.5 segments): the oldest without events go first (day 6, then today's first); day 5's
    # event footage stays although it is the oldest.
    assert _kept(root, 1) == [days[5], *[days[7] + 10 * i for i in range(1, 6)]]
    kept = {(s.path, s.events, s.motion, s.decided) for s in await RecordingIndex(engine).everything()}
    await recorder.reindex()
    rebuilt = {(s.path, s.events, s.motion, s.decided) for s in await RecordingIndex(engine).everything()}
    assert rebuilt == kept


async def test_the_index_follows_the_files(engine: AsyncEngine, tmp_path: Path, sample_segment: Path) -> None:
    recorder = await _recorder(engine, tmp_path, {"mode": "continuous"})
    now = time.time()
    _segments(recorder.root, sample_segment, 1, [now - 100, now - 90])
    await recorder.sync(full=True, now_s=now)
    assert len(await RecordingIndex(engine).everything()) == 2
    recordings.camera_segments(recorder.root, 1)[0].path.unlink()  # someone deleted a file
    await recorder.sync(full=True, now_s=now)
    assert [s.start_ms for s in await RecordingIndex(engine).everything()] == [int((now - 90) * 1000)]


async def test_each_hosts_recorder_keeps_to_its_own_disk(engine: AsyncEngine, tmp_path: Path,
                                                         sample_segment: Path) -> None:  # fmt: skip
    """Seen in review: a recorder's full scan drops the rows whose file it does not find, which on a
    site with footage on several disks would be every other host's. Each recorder indexes, prunes and
    counts its own disk's rows only (under its host name; "" for the shared folder)."""
    shared = await _recorder(engine, tmp_path, {"mode": "continuous"})
    (tmp_path / "a").mkdir()
    own = await _recorder(engine, tmp_path / "a", {"mode": "continuous"}, recordings_dir=tmp_path / "disk-a",
                          recordings_url="http://ingest-1.internal:8790", secret_key=SecretStr("k" * 16),
                          ingest_host="ingest-1")  # fmt: skip
    now = time.time()
    _segments(shared.root, sample_segment, 1, [now - 100, now - 90])
    _segments(own.root, sample_segment, 1, [now - 80])
    for recorder in (shared, own, shared):  # each full scan sees only its own files
        await recorder.sync(full=True, now_s=now)
    rows = await RecordingIndex(engine).everything()
    assert sorted((s.host, s.start_ms) for s in rows) == [("", int((now - 100) * 1000)), ("", int((now - 90) * 1000)),
                                                          ("ingest-1", int((now - 80) * 1000))]  # fmt: skip
    size = (await asyncio.to_thread(sample_segment.stat)).st_size
    assert await shared.index.total_bytes() == 2 * size and await own.index.total_bytes() == size
    assert [s.host for s in await own.index.oldest(10, with_events=False)] == ["ingest-1"]


def test_the_clip_cache_is_bounded_and_never_costs_footage(tmp_path: Path, sample_segment: Path) -> None:
    """Seen before: a viewer asking for many distinct ranges filled the disk with cached clips, and
    retention then deleted the oldest footage. Now: at most MAX_CLIPS clips and the cache's bytes,
    oldest first; a range with more footage than the cache holds is refused; a clip that would take
    the disk below the recordings' free-space floor is refused, and the footage stays."""
    root, cache = tmp_path / "recordings", tmp_path / "clips"
    _segments(root, sample_segment, 1, [START_S])
    path = recordings.finished_path(root, 1, int(START_S * 1000), int(START_S * 1000) + 10_000)
    size = path.stat().st_size
    segment = Segment(1, 1, int(START_S * 1000), int(START_S * 1000) + 10_000, size, str(path.relative_to(root)),
                      False, False, False)  # fmt: skip
    here = FootageSource(root, "", {}, None)
    for i in range(clips.MAX_CLIPS + 8):  # distinct ranges, each a new clip
        clips.cached_or_made(cache, here, [segment], 1, START_S + i * 0.01, START_S + 9, 10**9, 0)
    assert len(list(cache.iterdir())) == clips.MAX_CLIPS
    for i in range(6):  # a cache of three clips' worth of footage holds at most that
        clips.cached_or_made(cache, here, [segment], 1, START_S + 1 + i * 0.01, START_S + 9, 3 * size, 0)
        assert sum(p.stat().st_size for p in cache.iterdir()) <= 3 * size
    with pytest.raises(clips.NoRoom, match="more than the clip cache") as large:
        clips.cached_or_made(cache, here, [segment], 1, START_S + 2, START_S + 9, size - 1, 0)
    assert large.value.status == 413
    floor = shutil.disk_usage(tmp_path).total  # a floor no disk can keep: as a nearly full disk would be
    with pytest.raises(clips.NoRoom, match="free-space floor") as full:
        clips.cached_or_made(cache, here, [segment], 1, START_S + 3, START_S + 9, 10**9, floor)
    assert full.value.status == 507 and list(cache.iterdir()) == []  # the cache gave up its room first
    assert path.stat().st_size == size  # and the footage was never touched
