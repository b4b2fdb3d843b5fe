"""An opened RTSP client's packets as what ingest wants of them: the video track's access units,
each with its time, and the audio track's units handed to a callback. Used where ingest decodes
(sources.RtspSource) and where it only relays (relay.MainStreamRelay)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ingest.rtsp.audio import AudioDepacketizer, AudioUnit
from ingest.rtsp.client import RtspClient
from ingest.rtsp.depacketize import AccessUnit, Depacketizer

# Called with each audio unit, its track, its time (s) and when it arrived.
AudioHandler = Callable[[AudioUnit, AudioDepacketizer, float, float], None]


class RtpClock:
    """RTP timestamps (32 bits, wrapping) as seconds since the first."""

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self._first: int | None = None
        self._last = 0
        self._wraps = 0

    def seconds(self, timestamp: int) -> float:
        if self._first is None:
            self._first = self._last = timestamp
        if timestamp < self._last and self._last - timestamp > 2**31:
            self._wraps += 1
        elif timestamp > self._last and timestamp - self._last > 2**31:
            self._wraps -= 1  # a late packet from before the wrap
        self._last = timestamp
        return (timestamp + self._wraps * 2**32 - self._first) / self.clock_rate


class StreamUnits:
    def __init__(self, client: RtspClient, on_audio: AudioHandler | None = None) -> None:
        """`client` is open; its first track is the video."""
        self.client = client
        self.track = client.tracks[0]
        assert self.track.codec is not None and self.track.kind == "video"
        self._depacketizer = Depacketizer(self.track.codec, self.track.parameter_sets())
        self._clock = RtpClock(self.track.clock_rate)
        self._on_audio = on_audio
        self._audio = next(
            ((AudioDepacketizer(t), RtpClock(t.clock_rate)) for t in client.tracks if t.kind == "audio"), None
        )

    def video(self) -> Iterator[tuple[AccessUnit, float, float]]:
        """(access unit, its time in s, when its last packet arrived), as they complete. Raises RtspError."""
        for packet in self.client.packets():
            if self.client.channels[packet.channel] is not self.track:
                if self._audio is not None and self._on_audio is not None:
                    audio, clock = self._audio
                    for sound in audio.push(packet.payload, packet.timestamp):
                        self._on_audio(sound, audio, clock.seconds(sound.rtp_timestamp), packet.received_at_s)
                continue
            for unit in self._depacketizer.push(packet.payload, packet.sequence, packet.timestamp, packet.marker):
                yield unit, self._clock.seconds(unit.rtp_timestamp), packet.received_at_s
