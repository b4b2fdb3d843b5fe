"""The recorder: keeps the recordings index true to the files, and the files to what each camera's
mode and the disk allow. The camera processes write the segments (ingest.segments); this
process never touches a stream, so its restart costs no footage. Beside the passes, it raises a
`recording_gap` event when a camera's writer stops (recorder.gaps) and an `offline` event when a
camera delivers no frame for its offline window (recorder.offline).

Every pass (PASS_S):
1. Index: finished segments not indexed yet are added (today's and yesterday's folders; every
   folder at start and every FULL_SCAN_S, which also drops rows whose file is gone); part files
   whose writer was killed are repaired (files.repair).
2. Decide: a segment is judged once no event can still claim it (its end + the camera's pre_s +
   DECIDE_LAG_S): in `events` mode it is kept if an event of the camera's `event_types` (widened by pre_s/post_s)
   overlaps it, in `motion` mode if any event does, in `continuous` always; the rest is deleted.
   Kept segments are flagged `events`/`motion` for retention and the timeline.
3. Retention: per camera by age (retain_days, events_retain_days); then, over every camera,
   the oldest footage without events first, then the oldest with events, while recordings use
   more than CAMSTREAM_RECORDINGS_MAX_GB or the disk has less than its floor free (shared.disk_floor);
   footage with events is never deleted for the floor when other files fill the disk.
4. Events: those older than CAMSTREAM_EVENTS_RETAIN_DAYS go, with their snapshots, at the first
   pass and every event_retention.EVERY_S (recorder.event_retention).

Footage on several disks: a host whose recordings stay on its own disk (CAMSTREAM_RECORDINGS_URL)
runs a recorder of its own, which indexes, judges and prunes that disk's segments only (rows under
its host name), says every pass where it serves them (shared.db.recording_hosts) and serves them to
gateways (recorder.serve). The system's once-only work, health events and event retention, is done by
one recorder of them all (recorder.duties).

The database going away pauses the pass (logged once); the camera processes keep recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from recorder import event_retention, files
from recorder.duties import Duties
from recorder.gaps import RecordingGaps
from recorder.health import CameraHealth, HealthWatch
from recorder.offline import OfflineWatch
from recorder.serve import FootageServer
from shared import recordings
from shared.cameras import Camera
from shared.db import recording_hosts
from shared.db.cameras import read_cameras
from shared.db.engine import DatabaseUnavailable, connect, reason
from shared.db.events import EventHistory
from shared.db.recordings import PERSON_TYPES, RecordingIndex, Segment
from shared.disk_floor import floor_bytes
from shared.footage_signing import footage_key
from shared.redis_client import sync_client
from shared.secret_box import load_box
from shared.settings import Settings

log = logging.getLogger(__name__)

PASS_S = 2.0
HEARTBEAT = ".recorder-heartbeat"  # in the recordings folder: its mtime is the last pass done (--check)
FULL_SCAN_S = 600.0
EXPIRE_EVERY_S = 60.0  # ages move slowly; the size cap and the free-space floor are checked every pass
DECIDE_LAG_S = 20.0  # events reach the database this late at most (analysis, the history writer's batches)
BATCH = 200
GB = 1024**3
RECORDINGS_SHARE = 0.5  # footage with events goes for the floor only while recordings hold this much of the disk


class Recorder:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.root = settings.recordings_root
        self.host = settings.recordings_host  # "" for the shared folder: rows under this name are this disk's
        self.index = RecordingIndex(engine, self.host)
        self.history = EventHistory(engine)
        self.engine = engine
        self.stop = threading.Event()  # run's, once it runs
        self.cameras: dict[int, Camera] = {}
        self.box = load_box(settings)
        self._known: dict[str, int] = {}  # indexed path -> row id
        self._last_full_scan = 0.0
        self._last_expiry = 0.0
        self._last_event_expiry = (
            0.0  # events (CAMSTREAM_EVENTS_RETAIN_DAYS) expire at the first pass, then now and then
        )
        self._database_ok = True
        self.deleted = 0
        self._crowded = False  # other files hold the disk under the floor (said once)
        self._client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
        self.gaps = RecordingGaps(settings, self.history, self._client)
        self.duties = Duties(self._client, settings.ingest_host)

    async def run(self, stop: threading.Event) -> None:
        self.stop = stop
        self.root.mkdir(parents=True, exist_ok=True)
        log.info("recorder: recordings in %s", self.root)
        watchers: list[HealthWatch] = [self.gaps, OfflineWatch(self.settings, self.history, self._client)]
        server = self._footage_server()
        health = asyncio.create_task(self._watch_health(CameraHealth(watchers, self._known_cameras, self._client)),
                                     name="camera-health")  # fmt: skip
        serving = asyncio.create_task(server.serve(), name="footage-server") if server else None
        try:
            await self._passes()
        finally:
            if server and serving:
                server.stop()
                await serving
            health.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await health
            await asyncio.to_thread(self.duties.give_up)
            self._client.close()

    def _footage_server(self) -> FootageServer | None:
        if self.settings.recordings_url is None or self.settings.secret_key is None:
            return None
        key = footage_key(self.settings.secret_key.get_secret_value())
        server = FootageServer(self.settings.recordings_listen, self.root, key)
        log.info("recorder: footage of host %s served on %s as %s", self.host, self.settings.recordings_listen,
                 self.settings.recordings_url)  # fmt: skip
        return server

    def _known_cameras(self) -> dict[int, Camera]:
        return self.cameras

    async def _watch_health(self, health: CameraHealth) -> None:
        """The camera-health events (recorder.gaps, recorder.offline), beside the passes, while this
        recorder holds the system's duties; a database away is waited out."""
        while not self.stop.is_set():
            if not self.duties.held:
                await asyncio.sleep(PASS_S / 4)
                continue
            try:
                await health.run(lambda: self.stop.is_set() or not self.duties.held)
            except (SQLAlchemyError, DatabaseUnavailable):
                await asyncio.sleep(PASS_S)  # the pass loop says the database is away

    async def _passes(self) -> None:
        while not self.stop.is_set():
            try:
                await self.one_pass()
                await asyncio.to_thread((self.root / HEARTBEAT).touch)
                if not self._database_ok:
                    log.info("recorder: database reachable again")
                self._database_ok = True
            except (SQLAlchemyError, DatabaseUnavailable) as e:
                if self._database_ok:
                    log.warning("recorder: database unavailable, pausing (cameras keep recording): %s", reason(e))
                self._database_ok = False
                self._last_full_scan = 0.0  # start again from the files when it is back
            await asyncio.to_thread(self.stop.wait, PASS_S)

    async def one_pass(self, now_s: float | None = None) -> None:
        now_s = now_s or time.time()
        duties = await asyncio.to_thread(self.duties.renew)
        await self._read_cameras()
        await self.sync(full=now_s - self._last_full_scan >= FULL_SCAN_S, now_s=now_s)
        await self.decide(now_s)
        if abs(now_s - self._last_expiry) >= EXPIRE_EVERY_S:
            await self.expire(now_s)
            self._last_expiry = now_s
        if duties and abs(now_s - self._last_event_expiry) >= event_retention.EVERY_S:
            deleted = await event_retention.expire(self.history, self.settings.events_retain_days, now_s)
            if deleted:
                log.info("recorder: deleted %d event(s) older than %g day(s)", deleted,
                         self.settings.events_retain_days)  # fmt: skip
            self._last_event_expiry = now_s
        await self.keep_disk_free()
        if self.settings.recordings_url is not None:
            usage = await asyncio.to_thread(shutil.disk_usage, self.root)
            await recording_hosts.say(self.engine, recording_hosts.RecordingHost(
                self.host, self.settings.recordings_url, usage.free, usage.total, now_s))  # fmt: skip

    async def _read_cameras(self) -> None:
        async with connect(self.engine) as connection:
            found = await read_cameras(connection, os.environ, self.box)
        self.cameras = {c.id: c for c in found.cameras}

    async def sync(self, full: bool, now_s: float) -> None:
        """Index finished segments; repair orphans; on a full scan, forget rows whose file is gone."""
        for part in await asyncio.to_thread(files.orphan_parts, self.root, now_s):
            await asyncio.to_thread(files.repair, self.root, part)
        if full or not self._known:
            self._known = await self.index.paths()
        days = None if full else _recent_days(now_s)
        found = await asyncio.to_thread(files.finished, self.root, days)
        new = [f for f in found if f.relative not in self._known]
        await self.index.add([
            {"camera_id": f.segment.camera_id, "start_ms": f.segment.start_ms, "end_ms": f.segment.end_ms,
             "bytes": f.size, "path": f.relative}
            for f in new
        ])  # fmt: skip
        if new:
            self._known = await self.index.paths()
        if full:
            present = {f.relative for f in found}
            gone = [row_id for path, row_id in self._known.items() if path not in present]
            if gone:
                log.info("recorder: %d indexed segments have no file any more: dropped from the index", len(gone))
                await self.index.remove(gone)
                self._known = {p: i for p, i in self._known.items() if p in present}
            self._last_full_scan = now_s

    async def decide(self, now_s: float) -> None:
        on_disk = await asyncio.to_thread(recordings.recorded_cameras, self.root)
        for camera_id in sorted(set(on_disk) | set(self.cameras)):
            camera = self.cameras.get(camera_id)
            pre_s, post_s = (camera.record.pre_s, camera.record.post_s) if camera else (5.0, 5.0)
            mode = camera.record.mode if camera else "continuous"  # a camera removed: keep what it left
            before_ms = int((now_s - pre_s - DECIDE_LAG_S) * 1000)
            for segment in await self.index.undecided(camera_id, before_ms):
                types = await self.index.overlaps(camera_id, segment.start_ms, segment.end_ms, pre_s, post_s)
                with_events = bool(types & set(camera.record.event_types if camera else PERSON_TYPES))
                keep = mode in ("continuous", "off") or (mode == "motion" and bool(types)) or with_events
                if keep:
                    await self.index.mark(segment.id, with_events, bool(types), decided=True)
                else:
                    await self._delete([segment], "no event in it")

    async def expire(self, now_s: float) -> None:
        for camera_id, camera in self.cameras.items():
            footage_ms = int((now_s - camera.record.retain_days * 86400) * 1000)
            events_ms = int((now_s - camera.record.events_retain_days * 86400) * 1000)
            while expired := await self.index.expired(camera_id, footage_ms, events_ms, BATCH):
                await self._delete(expired, "past its retention")
                if len(expired) < BATCH:
                    break

    async def keep_disk_free(self) -> None:
        """Oldest footage without events first, then with events, while over the cap or the floor.

        Footage with events goes for the free-space floor only while recordings are what fills the
        disk (RECORDINGS_SHARE of what it holds): when other files fill it, deleting them would buy
        minutes at the cost of what the owner keeps recordings for; it is kept, and said."""
        cap = self.settings.recordings_max_gb * GB
        floor = await asyncio.to_thread(floor_bytes, self.settings, self.root)
        for with_events in (False, True):
            while True:
                recorded = await self.index.total_bytes()
                over_cap = recorded - cap if cap > 0 else 0
                usage = await asyncio.to_thread(shutil.disk_usage, self.root)
                short = floor - usage.free if floor > 0 else 0
                if max(over_cap, short) <= 0:
                    self._crowded = False
                    return
                crowded = short > 0 and recorded < (usage.total - usage.free) * RECORDINGS_SHARE
                if with_events and crowded:
                    self._say_crowded(recorded, usage.total - usage.free, usage.free, floor)
                    short = 0
                need = max(over_cap, short)
                if need <= 0:
                    return
                oldest = await self.index.oldest(BATCH, with_events)
                if not oldest:
                    break
                going, freed = [], 0
                for segment in oldest:  # just enough of the oldest
                    going.append(segment)
                    freed += segment.bytes
                    if freed >= need:
                        break
                if over_cap > 0:
                    why = "over the size cap"
                    await self._delete(going, why)
                else:
                    why = f"the disk has {usage.free / GB:.2f} GB free, under the floor of {floor / GB:.2f} GB"
                    await self._delete(going, why, logging.WARNING)
                await self._say_deleted_early(going, why)

    async def _say_deleted_early(self, segments: list[Segment], why: str) -> None:
        """Footage deleted before its camera's retention had run out is a gap the owner did not ask for:
        a `recording_gap` over it, per camera (recorder.gaps), which the coverage API names as the cause."""
        now_s = time.time()
        early: dict[int, list[Segment]] = {}
        for segment in segments:
            camera = self.cameras.get(segment.camera_id)
            if camera is None or not camera.health.enabled:
                continue
            days = camera.record.events_retain_days if segment.events else camera.record.retain_days
            if segment.start_ms >= (now_s - days * 86400) * 1000:
                early.setdefault(segment.camera_id, []).append(segment)
        for camera_id, deleted in early.items():
            days = self.cameras[camera_id].record.retain_days
            await self.gaps.deleted_early(camera_id, min(s.start_ms for s in deleted) / 1000,
                                          max(s.end_ms for s in deleted) / 1000,
                                          f"footage younger than its {days:g} days deleted ({why})")  # fmt: skip

    def _say_crowded(self, recorded: int, used: int, free: int, floor: int) -> None:
        if self._crowded:
            return
        self._crowded = True
        log.warning("recorder: the recordings' disk has %.2f GB free, under the floor of %.2f GB, and other files "
                    "fill it (recordings %.2f of %.2f GB used): footage with events is kept; recording pauses "
                    "if the disk fills", free / GB, floor / GB, recorded / GB, used / GB)  # fmt: skip

    async def _delete(self, segments: list[Segment], why: str, level: int = logging.INFO) -> None:
        """Files first: a crash between leaves a row without a file, which the next full scan drops."""
        for segment in segments:
            await asyncio.to_thread(files.delete, self.root / segment.path)
        await self.index.remove([s.id for s in segments])
        for segment in segments:
            self._known.pop(segment.path, None)
        self.deleted += len(segments)
        log.log(level, "recorder: deleted %d segment(s) of camera %s: %s", len(segments),
                ",".join(sorted({str(s.camera_id) for s in segments})), why)  # fmt: skip

    async def reindex(self) -> int:
        """Rebuild the index from the files alone; how many segments it holds."""
        await self._read_cameras()
        await self.index.clear()
        self._known = {}
        await self.sync(full=True, now_s=time.time())
        for segment in await self.index.everything():
            await self._judge_again(segment)
        return len(self._known)

    async def _judge_again(self, segment: Segment) -> None:
        """A rebuilt row's flags, from the events (a file still on disk was kept when it was judged)."""
        camera = self.cameras.get(segment.camera_id)
        pre_s, post_s = (camera.record.pre_s, camera.record.post_s) if camera else (5.0, 5.0)
        if segment.end_ms >= (time.time() - pre_s - DECIDE_LAG_S) * 1000:
            return  # not judged yet: the next pass does it, as it would have
        types = await self.index.overlaps(segment.camera_id, segment.start_ms, segment.end_ms, pre_s, post_s)
        kinds = set(camera.record.event_types if camera else PERSON_TYPES)
        await self.index.mark(segment.id, bool(types & kinds), bool(types), decided=True)


def _recent_days(now_s: float) -> list[str]:
    return sorted({time.strftime("%Y-%m-%d", time.gmtime(now_s - back)) for back in (0, 86400)})
