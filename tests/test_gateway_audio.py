"""A camera's audio to WebRTC viewers: a GStreamer camera sending a 440 Hz tone (G.711 or AAC),
real ingest and gateway processes, aiortc viewers that offer audio and hear what arrives."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import redis
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from gateway.webrtc.compat import use_host_addresses
from shared import keys
from shared.packets import AudioMessage
from tests.support import RtspServer, ServiceRun, wait_until, wait_until_async, web, write_camera_file
from tests.support.browser import browser_page, csp_violations

pytestmark = pytest.mark.rtsp
LOOPBACK = {"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}
TONE_HZ = 440.0


class Listener:
    """An aiortc viewer that offers video and audio, and keeps the audio it hears (mono samples)."""

    def __init__(self, audio_codecs: list[str] | None = None) -> None:
        use_host_addresses(["127.0.0.1"])
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.chunks: list[np.ndarray] = []
        self.rate = 0
        self.audio_codecs = audio_codecs
        self._readers: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._readers.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.AudioFrame):
                    self.rate = frame.sample_rate
                    channels = len(frame.layout.channels)
                    self.chunks.append(frame.to_ndarray().reshape(-1, channels)[:, 0].astype(np.int16))
        except MediaStreamError:
            return

    async def offer(self) -> str:
        self.pc.addTransceiver("video", direction="recvonly")
        audio = self.pc.addTransceiver("audio", direction="recvonly")
        if self.audio_codecs is not None:
            capabilities = RTCRtpSender.getCapabilities("audio").codecs
            audio.setCodecPreferences([c for c in capabilities if c.mimeType in self.audio_codecs])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    def samples(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)

    async def close(self) -> None:
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def answered_codec(sdp: str) -> str:
    """The codec the gateway sends audio with: the first payload type of its audio m-line."""
    media = sdp.split("m=audio", 1)[1]
    payload = media.split("\r\n", 1)[0].split()[2]  # " <port> <proto> <first payload type>"
    match = re.search(rf"a=rtpmap:{payload} ([^/\r]+)", media)
    assert match, media
    return match[1]


def metric(text: str, name: str) -> float:
    match = re.search(rf'camstream_{name}_total\{{camera="1"\}} ([0-9.]+)', text)
    assert match, text
    return float(match[1])


@pytest.mark.parametrize("audio", ["pcmu", "aac"])
async def test_viewers_hear_the_cameras_audio(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    rdb: redis.Redis, tmp_path: Path, audio: str,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, audio=audio)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "with sound", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: rdb.xlen(keys.audio_stream(1)) > 0, 15.0, what="the camera's audio on the bus")
    # The first takes whatever the gateway prefers; the second offers Opus only, as some clients do.
    listeners = [Listener(), Listener(["audio/opus"])]
    async with web.client(base) as http:
        codecs = []
        for listener in listeners:
            offer = {"camera_id": 1, "sdp": await listener.offer(), "type": "offer"}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            codecs.append(answered_codec(answer["sdp"]))
            await listener.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

        await wait_until_async(lambda: all(len(li.samples()) >= li.rate * 2 > 0 for li in listeners), 20.0,
                               interval_s=0.2, what="two seconds of audio at each viewer")  # fmt: skip
        status = (await http.get("/api/streams/status")).json()["sessions"]
        metrics = (await http.get("/metrics")).text
        for listener in listeners:
            await listener.close()

    for listener in listeners:
        heard = listener.samples()[-listener.rate * 2 :]
        assert np.std(heard) > 1000, "a tone, not silence"
        assert abs(dominant_hz(heard, listener.rate) - TONE_HZ) < 10
    if audio == "pcmu":
        # The camera's own G.711 to the viewer that takes it, sample for sample; Opus to the other.
        assert codecs == ["PCMU", "opus"] and sorted(s["audio"] for s in status) == ["opus", "passthrough"]
        assert metric(metrics, "webrtc_audio_packets_passed") >= 10  # as the camera packed them (here ~100 ms each)
        camera = _decoded_mulaw([AudioMessage.from_entry(f) for _i, f in rdb.xrange(keys.audio_stream(1))])
        heard = listeners[0].samples()[-1600:]
        assert _contains(camera, heard), "the G.711 the viewer heard is not the camera's, sample for sample"
    else:
        assert codecs == ["opus", "opus"] and [s["audio"] for s in status] == ["opus", "opus"]
        assert metric(metrics, "webrtc_audio_packets_passed") == 0
    assert metric(metrics, "webrtc_audio_packets_encoded") > 50  # once per camera, for both Opus viewers


def _decoded_mulaw(units: list[AudioMessage]) -> np.ndarray:
    decoder = av.CodecContext.create("pcm_mulaw", "r")
    decoder.sample_rate, decoder.layout = 8000, "mono"  # type: ignore[attr-defined]
    frames = [f.to_ndarray().ravel() for u in units for f in decoder.decode(av.Packet(u.data))]  # type: ignore[attr-defined]
    return np.concatenate(frames).astype(np.int16)


def _contains(haystack: np.ndarray, needle: np.ndarray) -> bool:
    starts = np.flatnonzero(haystack[: len(haystack) - len(needle) + 1] == needle[0])
    return any(np.array_equal(haystack[s : s + len(needle)], needle) for s in starts)


async def test_cameras_without_audio_answer_video_only(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    silent, switched_off = rtsp_server(size="320x180", fps=15), rtsp_server(size="320x180", fps=15, audio="pcmu")
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "no microphone", "source": silent.url()},
        {"id": 2, "name": "audio off", "source": switched_off.url(), "audio": False},
    ])  # fmt: skip
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    for camera_id in (1, 2):
        wait_until(lambda c=camera_id: web.get(f"{base}/api/cameras/{c}").json()["fps"], 15.0, what="streaming")
    listeners = [Listener(), Listener()]
    async with web.client(base) as http:
        for camera_id, listener in zip((1, 2), listeners, strict=True):
            offer = {"camera_id": camera_id, "sdp": await listener.offer(), "type": "offer"}
            reply = await http.post("/api/webrtc/offer", json=offer)
            assert reply.status_code == 200, reply.text
            assert "a=sendonly" not in reply.json()["sdp"].split("m=audio", 1)[1]  # nothing sent on the audio m-line
        assert [s["audio"] for s in (await http.get("/api/streams/status")).json()["sessions"]] == [None, None]
        for listener in listeners:
            await listener.close()


AUDIO_STATS = """async () => {
  const found = { packets: 0, energy: 0, codec: null };
  const stats = await window.pc.getStats();
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      found.packets = s.packetsReceived || 0;
      found.energy = s.totalAudioEnergy || 0;
      found.codec = stats.get(s.codecId)?.mimeType ?? null;
    }
  });
  return found;
}"""


@pytest.mark.usefixtures("chromium_available")
def test_the_browser_plays_the_cameras_own_g711_after_a_click(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, audio="pcmu")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "door", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: rdb.xlen(keys.audio_stream(1)) > 0, 15.0, what="the camera's audio on the bus")
    with browser_page(login=base, then="/player?camera=1") as page:
        wait_until(lambda: page.evaluate(AUDIO_STATS)["packets"] > 10, 20.0, interval_s=0.2, what="audio packets")
        assert page.evaluate("() => document.getElementById('video').muted"), "a page starts muted"
        page.locator("#sound").click()  # shown once audio arrives
        assert not page.evaluate("() => document.getElementById('video').muted")
        first = page.evaluate(AUDIO_STATS)
        wait_until(lambda: page.evaluate(AUDIO_STATS)["energy"] > first["energy"] + 0.01, 10.0, what="sound played")
        assert first["codec"] == "audio/PCMU", "the camera's own G.711, not re-encoded"
        # The dashboard's tile offers the same: its "Sound" control appears once audio arrives.
        page.goto(f"{base}/")
        wait_until(lambda: page.locator(".tile button.sound").is_visible(), 20.0, interval_s=0.2, what="Sound")
        page.locator(".tile button.sound").click()
        assert page.evaluate("() => document.querySelector('.tile video').muted") is False
        assert not csp_violations(page)
