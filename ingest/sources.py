"""Frame sources: an RTSP camera, a looped video file, a synthetic demo scene.

Each yields SourceFrames until it fails or is told to stop, and raises SourceError with a
message fit for a status record: no URL, so no credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import av
import numpy as np

from ingest.demo import DemoScene
from ingest.rtsp.client import RtspClient, RtspError
from ingest.rtsp.depacketize import AccessUnit
from ingest.rtsp.units import AudioHandler, StreamUnits
from shared.cameras import Camera, SourceKind, demo_options, source_kind
from shared.redact import mask_credentials


class SourceError(Exception):
    """The source failed. `permanent` means retrying will not help until the user acts."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(mask_credentials(message))
        self.permanent = permanent


@dataclass(slots=True)
class SourceFrame:
    received_at_s: float  # wall clock when the frame's data arrived
    media_time_s: float  # the frame's place on the source's own timeline, for pacing
    video: av.VideoFrame | None = None  # decoded frames (RTSP, file)
    image: np.ndarray | None = None  # BGR images (demo)

    @property
    def size(self) -> tuple[int, int]:
        if self.video is not None:
            return self.video.width, self.video.height
        assert self.image is not None
        return self.image.shape[1], self.image.shape[0]


class Source(Protocol):
    def frames(self) -> Iterator[SourceFrame]: ...

    def close(self) -> None: ...


# Called with each access unit of an RTSP stream, its time (s) and when it arrived, before decoding.
UnitHandler = Callable[[AccessUnit, float, float], None]


def open_source(
    camera: Camera, stop: threading.Event, open_timeout_s: float, read_timeout_s: float,
    on_unit: UnitHandler | None = None, on_audio: AudioHandler | None = None,
) -> Source:  # fmt: skip
    """The stream ingest decodes: the camera's detect stream when it has one, else its main stream."""
    url = camera.decoded_source.get_secret_value()
    match source_kind(url):
        case SourceKind.RTSP:
            return RtspSource(url, open_timeout_s, read_timeout_s, on_unit, on_audio, camera.tls_fingerprint,
                              small=camera.detect_source is not None)  # fmt: skip
        case SourceKind.FILE:
            return FileSource(Path(url), stop)
        case SourceKind.DEMO:
            name, width, height, fps = demo_options(url)
            return DemoSource(DemoScene(name, width, height), fps or camera.fps, stop)


def describe_av_error(error: Exception) -> str:
    """FFmpeg's reason without the file name PyAV appends: that name is the URL."""
    reason = getattr(error, "strerror", None) or type(error).__name__
    return mask_credentials(str(reason))


class RtspSource:
    """A camera over RTSP, read by our own client (ingest/rtsp): each access unit is decoded the
    moment its last RTP packet arrives, one frame interval sooner than FFmpeg's RTSP demuxer."""

    def __init__(  # noqa: PLR0913 - the URL, its timeouts and optional handlers
        self, url: str, open_timeout_s: float, read_timeout_s: float, on_unit: UnitHandler | None = None,
        on_audio: AudioHandler | None = None, pin: str | None = None, small: bool = False,
    ) -> None:  # fmt: skip
        """`small`: a detect stream (a camera's sub stream, 360p to 480p), decoded on one thread."""
        self._on_unit = on_unit
        try:
            self._client = RtspClient(url, open_timeout_s, read_timeout_s, pin)
            tracks = self._client.open(("video", "audio") if on_audio else ("video",))
        except RtspError as e:
            self.close()
            if e.status == 401:
                raise SourceError("camera refused the login (401 Unauthorized)", permanent=True) from None
            if "no stream camstream can read" in str(e):
                raise SourceError("RTSP stream has no video track camstream can read (H.264 or H.265)",
                                  permanent=True) from None  # fmt: skip
            raise SourceError(f"cannot open RTSP stream: {e}") from None
        self._units = StreamUnits(self._client, on_audio)
        self.track = tracks[0]
        assert self.track.codec is not None
        self._decoder = cast(av.VideoCodecContext, av.CodecContext.create(self.track.codec, "r"))
        if small:  # ~0.6 ms a 640x360 frame on one thread; slice threads add 40 % of CPU to save 0.3 ms
            self._decoder.thread_count = 1
        else:  # frame threading holds back two frames (+133 ms at 15 fps); slice threading holds none
            self._decoder.thread_type = "SLICE"

    def frames(self) -> Iterator[SourceFrame]:
        try:
            for unit, media, received in self._units.video():
                if self._on_unit is not None:
                    self._on_unit(unit, media, received)
                for frame in self._decoder.decode(av.Packet(unit.data)):
                    yield SourceFrame(received, media, video=frame)
        except RtspError as e:
            raise SourceError(f"RTSP read failed: {e}") from None
        except av.error.InvalidDataError as e:
            raise SourceError(f"decoder error: {describe_av_error(e)}") from None
        except (av.error.FFmpegError, OSError) as e:
            raise SourceError(f"RTSP read failed: {describe_av_error(e)}") from None
        raise SourceError("RTSP stream ended")

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


class _Clock:
    """Paces frames at a fixed rate on the wall clock; restarts after a stall of over a second."""

    def __init__(self, fps: float, stop: threading.Event) -> None:
        self.interval_s = 1.0 / fps
        self._stop = stop
        self._start = time.monotonic()
        self.count = 0

    def wait_next(self) -> bool:
        due = self._start + self.count * self.interval_s
        now = time.monotonic()
        if now - due > 1.0:
            self._start, due = now - self.count * self.interval_s, now
        if due > now and self._stop.wait(due - now):
            return False
        self.count += 1
        return True


class FileSource:
    def __init__(self, path: Path, stop: threading.Event) -> None:
        if not path.is_file():
            raise SourceError(f"video file not found: {path}", permanent=True)
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, OSError) as e:
            raise SourceError(f"cannot open video file {path.name}: {describe_av_error(e)}", permanent=True) from None
        if not self._container.streams.video:
            self.close()
            raise SourceError(f"video file {path.name} has no video track", permanent=True)
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.thread_type = "SLICE"
        rate = self._stream.average_rate or self._stream.guessed_rate or 25
        self._clock = _Clock(float(rate), stop)
        self._name = path.name

    def frames(self) -> Iterator[SourceFrame]:
        while True:
            decoded = 0
            try:
                for frame in self._container.decode(self._stream):
                    if not self._clock.wait_next():
                        return
                    decoded += 1
                    yield SourceFrame(time.time(), self._clock.count * self._clock.interval_s, video=frame)
            except (av.error.FFmpegError, OSError) as e:
                raise SourceError(f"decoder error in {self._name}: {describe_av_error(e)}") from None
            if decoded == 0:
                raise SourceError(f"video file {self._name} holds no frames", permanent=True)
            self._container.seek(0)  # loop

    def close(self) -> None:
        self._container.close()


class DemoSource:
    def __init__(self, scene: DemoScene, fps: float, stop: threading.Event) -> None:
        self._scene = scene
        self._clock = _Clock(fps, stop)

    def frames(self) -> Iterator[SourceFrame]:
        while self._clock.wait_next():
            media = self._clock.count * self._clock.interval_s
            now = time.time()
            yield SourceFrame(now, media, image=self._scene.render(media, now))

    def close(self) -> None:
        pass
