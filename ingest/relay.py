"""The main stream of a camera that has a detect stream: read and relayed as access units, never
decoded (ingest decodes only the detect stream). Its own thread, its own reconnects."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ingest.backoff import Backoff
from ingest.rtsp.client import RtspClient, RtspError
from ingest.rtsp.depacketize import AccessUnit
from ingest.rtsp.units import AudioHandler, StreamUnits
from shared.cameras import Camera
from shared.redact import mask_credentials
from shared.settings import Settings

log = logging.getLogger(__name__)


class MainStreamRelay(threading.Thread):
    def __init__(
        self, camera: Camera, settings: Settings, stop: threading.Event,
        on_unit: Callable[[AccessUnit, float, float], None], on_restart: Callable[[], None],
        on_audio: AudioHandler | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name=f"relay-{camera.id}", daemon=True)
        self._url, self._pin = camera.source.get_secret_value(), camera.tls_fingerprint
        self.camera_id = camera.id
        self._on_unit = on_unit
        self._on_restart = on_restart
        self._on_audio = on_audio
        self._settings = settings
        self._halt = stop
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s, settings.backoff_reset_after_s)
        self.last_error: str | None = None

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._relay_once()
            except RtspError as e:
                self.last_error = mask_credentials(str(e))
            except Exception as e:  # never end the camera's process for its main stream
                log.exception("camera=%d main stream: unexpected error", self.camera_id)
                self.last_error = f"internal error: {type(e).__name__}"
            if self._halt.is_set():
                return
            delay = self._backoff.next_delay(time.monotonic())
            log.warning("camera=%d main stream: %s; retrying in %.1f s", self.camera_id, self.last_error,
                        delay)  # fmt: skip
            self._halt.wait(delay)

    def _relay_once(self) -> None:
        client = RtspClient(self._url, self._settings.rtsp_open_timeout_s, self._settings.rtsp_read_timeout_s,
                            self._pin)  # fmt: skip
        try:
            client.open(("video", "audio") if self._on_audio else ("video",))
            units = StreamUnits(client, self._on_audio)
            self._on_restart()
            started = False
            for unit, pts, received in units.video():
                if self._halt.is_set():
                    return
                if not started:
                    started = True
                    self._backoff.succeeded_at(time.monotonic())
                    self.last_error = None
                    log.info("camera=%d main stream: relaying %s access units", self.camera_id,
                             units.track.codec)  # fmt: skip
                self._on_unit(unit, pts, received)
            raise RtspError("main stream ended")
        finally:
            client.close()
