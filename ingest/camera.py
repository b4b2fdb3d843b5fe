"""One camera's process: open the source, keep the target fps, encode JPEG, hand to Redis.

Failures of the source (open, read timeout, end of stream, decoder) lead to a reconnect
after an exponential backoff; nothing a source does can end the process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import redis

from ingest.audio_publisher import AudioPublisher
from ingest.backoff import Backoff
from ingest.encoded import RecordingEncoder
from ingest.frame_publisher import Publisher
from ingest.jpeg import JpegEncoder
from ingest.pacing import FramePacer
from ingest.packet_publisher import PacketPublisher
from ingest.relay import MainStreamRelay
from ingest.rtsp.audio import AudioDepacketizer, AudioUnit
from ingest.rtsp.depacketize import AccessUnit
from ingest.segments import SegmentWriter
from ingest.sources import Source, SourceError, SourceFrame, open_source
from ingest.stats import CameraStats
from shared import keys
from shared.cameras import Camera, SourceKind
from shared.messages import FrameMessage
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.status import CameraState

log = logging.getLogger(__name__)


def _always() -> bool:
    return True


class CameraService:
    def __init__(self, settings: Settings, camera: Camera, may_write: Callable[[], bool] = _always) -> None:
        self.camera = camera
        self.settings = settings
        # Whether this host may write the camera's frames and footage now (ingest.leases.LeaseGuard: never
        # after its lease could have lapsed, so two hosts never write one camera).
        self._may_write = may_write
        self.stop = threading.Event()  # run's, once it runs
        self.stats = CameraStats(camera_id=camera.id, source=camera.source_masked, host=settings.ingest_host)
        self._encoder = JpegEncoder(camera.jpeg_quality)
        self._pacer = FramePacer(camera.fps)  # the camera's rate: what is counted, and recorded when encoded here
        # JPEG costs more than anything else a frame does here: encoded only at the rate something reads,
        # the analysis rate, unless a viewer reads the frame stream whole (Publisher.full_rate_wanted).
        self._jpeg_pacer = FramePacer(min(camera.fps, unwatched_frame_rate(camera)))
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s, settings.backoff_reset_after_s)
        self._seq = 0
        self._client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
        # The camera's own access units go onto its packet stream (passthrough viewers): read with the
        # frames when the main stream is the decoded one, by a relay thread when a detect stream is.
        # They are also written to disk by stream copy, here, so recording needs neither Redis nor the database.
        self._packets: PacketPublisher | None = None
        self._audio: AudioPublisher | None = None
        self._relay: MainStreamRelay | None = None
        self.recording: SegmentWriter | None = None
        self._recording_encoder: RecordingEncoder | None = None
        if camera.record.active:
            self.recording = SegmentWriter(settings.recordings_root, camera.id, settings.recordings_segment_s)
            self.stats.recording = self.recording
            if camera.source_kind is not SourceKind.RTSP:  # no stream of its own to copy: encoded once
                self._recording_encoder = RecordingEncoder(self.recording, camera.fps)
        if camera.source_kind is SourceKind.RTSP:
            self._packets = PacketPublisher(self._client, camera.id, settings.packet_stream_s,
                                            lambda: self._publisher.packets_wanted)  # fmt: skip
            self._audio = AudioPublisher(self._client, camera.id) if camera.audio else None
        self._publisher = Publisher(
            self._client,
            self.stats,
            maxlen=max(2, math.ceil(camera.fps * settings.frame_stream_s)),
            status_interval_s=settings.status_interval_s,
            status_ttl_s=settings.status_ttl_s,
        )
        if self.recording is not None:  # recording paused or back: said on the status at once
            self.recording.on_change = self._publisher.status_changed

    def run(self, stop: threading.Event) -> None:
        self.stop = stop
        if self._packets is not None and self.camera.detect_source is not None:  # the main stream read apart
            self._relay = MainStreamRelay(self.camera, self.settings, stop, self._on_unit, self._on_restart,
                                          self._on_audio if self._audio or self.recording else None)  # fmt: skip
        detect = f", decoding its detect stream {self.camera.detect_source_masked}" if self.camera.detect_source else ""
        log.info("camera=%d starting: source %s%s, %.1f fps", self.camera.id, self.camera.source_masked, detect,
                 self.camera.fps)  # fmt: skip
        helpers = [h for h in (self._publisher, self.recording, self._recording_encoder, self._packets, self._audio)
                   if h is not None]  # fmt: skip
        for helper in helpers:
            helper.start()
        if self._relay is not None:
            self._relay.start()
        try:
            while not self.stop.is_set():
                self._stream_once()
        finally:
            self._set_state(CameraState.STOPPED)
            if self._relay is not None:
                self._relay.join(self.settings.rtsp_read_timeout_s + 1)
            for helper in reversed(helpers[1:]):  # what the main stream feeds first, the publisher last
                helper.stop()
            self._publisher.stop()
            self._client.close()
            log.info("camera=%d stopped after %d frames", self.camera.id, self.stats.frames_sent)

    def _stream_once(self) -> None:
        self._set_state(CameraState.RECONNECTING if self.stats.reconnects else CameraState.CONNECTING)
        source: Source | None = None
        try:
            relay_here = self._packets is not None and self._relay is None
            if relay_here:
                self._on_restart()
            source = open_source(
                self.camera,
                self.stop,
                self.settings.rtsp_open_timeout_s,
                self.settings.rtsp_read_timeout_s,
                self._on_unit if relay_here else None,
                self._on_audio if relay_here and (self._audio or self.recording) else None,
            )
            self._pacer.reset()
            self._jpeg_pacer.reset()
            for frame in source.frames():
                if self.stop.is_set():
                    return
                self._handle(frame)
            if not self.stop.is_set():
                raise SourceError("source ended")
        except SourceError as e:
            self._failed(str(e), permanent=e.permanent)
        except Exception as e:  # a bug or an unforeseen codec quirk must not end the camera
            log.exception("camera=%d unexpected error", self.camera.id)
            self._failed(f"internal error: {type(e).__name__}", permanent=False)
        finally:
            if source is not None:
                source.close()

    def _on_unit(self, unit: AccessUnit, pts_s: float, received_at_s: float) -> None:
        """The main stream's access unit: to the packet stream, and to disk."""
        if not self._may_write():
            return
        self.stats.units_relayed += 1
        if self._packets is not None:
            self._packets.offer(unit, pts_s, received_at_s)
        if self.recording is not None:
            self.recording.offer(unit, pts_s, received_at_s)

    def _on_audio(self, unit: AudioUnit, track: AudioDepacketizer, pts_s: float, received_at_s: float) -> None:
        if not self._may_write():
            return
        if self._audio is not None:
            self._audio.offer(unit, track, pts_s, received_at_s)
        if self.recording is not None:
            self.recording.offer_audio(unit, track, pts_s, received_at_s)

    def _on_restart(self) -> None:
        """The main stream's reader (re)connected: its next unit is a keyframe, its clock starts afresh."""
        if self._packets is not None:
            self._packets.restart()
        if self.recording is not None:
            self.recording.restart()

    def _handle(self, frame: SourceFrame) -> None:
        if self.stats.state is not CameraState.STREAMING:
            self._backoff.succeeded_at(time.monotonic())
            self.stats.last_error = None
            self._set_state(CameraState.STREAMING)
            log.info("camera=%d streaming %dx%d", self.camera.id, *frame.size)
            self._say_size(frame.size)
        if not self._may_write():
            self.stats.frames_dropped += 1
            return
        if not self._pacer.keep(frame.media_time_s):
            self.stats.frames_dropped += 1
            return
        self.stats.frame_kept()
        if self._recording_encoder is not None:
            picture = frame.video if frame.video is not None else frame.image
            assert picture is not None
            self._recording_encoder.offer(picture, frame.received_at_s)
        wanted = self._jpeg_pacer.keep(frame.media_time_s)
        if not (wanted or self._publisher.full_rate_wanted):
            return
        if frame.video is not None:
            jpeg = self._encoder.encode_frame(frame.video)
        else:
            assert frame.image is not None
            jpeg = self._encoder.encode_bgr(frame.image)
        width, height = frame.size
        self.stats.width, self.stats.height = width, height
        message = FrameMessage(self.camera.id, self._seq, frame.received_at_s, width, height, jpeg)
        self._seq += 1
        self._publisher.offer(message, frame.received_at_s)

    def _say_size(self, size: tuple[int, int]) -> None:
        """What the camera decodes at: its weight when ingest hosts share cameras out (ingest.shares)."""
        try:
            self._client.hset(keys.ingest_sizes(), str(self.camera.id), f"{size[0]}x{size[1]}")
        except redis.RedisError as e:
            log.debug("camera=%d size not written: %s", self.camera.id, e)

    def _failed(self, reason: str, *, permanent: bool) -> None:
        if self.stop.is_set():
            return
        self.stats.reconnects += 1
        self.stats.last_error = reason
        delay = self._backoff.next_delay(time.monotonic())
        if permanent:
            delay = max(delay, self.settings.backoff_max_s)
        self._set_state(CameraState.FAILED if permanent else CameraState.RECONNECTING)
        log.warning("camera=%d %s; retrying in %.1f s", self.camera.id, reason, delay)
        self.stop.wait(delay)

    def _set_state(self, state: CameraState) -> None:
        if self.stats.state is not state:
            self.stats.state = state
            self._publisher.status_changed()


UNANALYSED_FPS = 1.0  # a camera with analysis off: enough for snapshots and the dashboard's stills


def unwatched_frame_rate(camera: Camera) -> float:
    """Frames a second into the frame stream while no viewer reads it whole: what analysis reads."""
    return camera.analysis.fps if camera.analysis.enabled else UNANALYSED_FPS
