"""Our RTSP client and depacketizers against GStreamer's RTSP server: whole access units on the
marker bit (each decodes at once), H.264 and H.265, Basic and Digest logins, and failures that
say what happened without the URL."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from ingest.probe import probe
from ingest.rtsp.client import RtspClient, RtspError
from ingest.rtsp.depacketize import START, Depacketizer
from shared.embedded_redis import free_port
from tests.support import RtspServer
from tests.support.tls_proxy import TlsProxy

pytestmark = pytest.mark.rtsp
PASSWORD = "S3cret:@/pw"  # reserved characters, percent-encoded in the URL


def _read(client: RtspClient, count: int) -> tuple[list[bool], int, tuple[int, int]]:
    """(keyframe flags of `count` access units, frames decoded as they came, the frame size)."""
    track = client.open()[0]
    assert track.codec is not None
    depacketizer = Depacketizer(track.codec, track.parameter_sets())
    decoder = av.CodecContext.create(track.codec, "r")
    keys: list[bool] = []
    decoded, size = 0, (0, 0)
    for packet in client.packets():
        for unit in depacketizer.push(packet.payload, packet.sequence, packet.timestamp, packet.marker):
            assert unit.data.startswith(START)
            keys.append(unit.keyframe)
            for frame in decoder.decode(av.Packet(unit.data)):
                decoded, size = decoded + 1, (frame.width, frame.height)
            assert decoded == len(keys), "an access unit was held back"  # released whole, on its marker bit
        if len(keys) >= count:
            return keys, decoded, size
    raise AssertionError("the stream ended")


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_access_units_decode_the_moment_they_arrive(rtsp_server: Callable[..., RtspServer], codec: str) -> None:
    server = rtsp_server(size="640x360", fps=15, codec=codec)
    client = RtspClient(server.url(), 5, 3)
    try:
        keys, decoded, size = _read(client, 40)
    finally:
        client.close()
    assert decoded == 40 and size == (640, 360)
    assert keys[0] and 2 <= sum(keys) <= 3  # a keyframe first, then one every 30 frames


@pytest.mark.parametrize("method", ["basic", "digest"])
def test_a_camera_login_with_reserved_characters(rtsp_server: Callable[..., RtspServer], method: str) -> None:
    server = rtsp_server(login=(method, "cam", PASSWORD))
    good = RtspClient(server.url("cam:S3cret%3A%40%2Fpw"), 5, 3)
    try:
        assert _read(good, 5)[1] == 5
    finally:
        good.close()
    for credentials in ("cam:wrong", None):
        refused = RtspClient(server.url(credentials), 5, 3)
        with pytest.raises(RtspError) as error:
            refused.open()
        refused.close()
        assert error.value.status == 401 and "wrong" not in str(error.value)


def test_failures_are_quick_and_say_what_happened_without_the_url(rtsp_server: Callable[..., RtspServer]) -> None:
    closed = RtspClient(f"rtsp://cam:S3cret%3A%40%2Fpw@127.0.0.1:{free_port()}/cam", 5, 3)
    started = time.monotonic()
    with pytest.raises(RtspError, match="cannot connect") as error:
        closed.open()
    assert time.monotonic() - started < 1 and "S3cret" not in str(error.value)
    server = rtsp_server()
    frozen = RtspClient(server.url(), 5, 1)
    try:
        frozen.open()
        assert server._process is not None
        os.kill(server._process.pid, signal.SIGSTOP)  # a camera that hangs: no packet, no FIN
        started = time.monotonic()
        with pytest.raises(RtspError, match="sent nothing for 1 s"):
            for _ in frozen.packets():
                pass
        assert 0.5 < time.monotonic() - started < 3
    finally:
        if server._process is not None:
            os.kill(server._process.pid, signal.SIGCONT)
        frozen.close()
    with pytest.raises(RtspError, match="not an rtsp"):
        RtspClient("http://127.0.0.1/cam", 5, 3)


def _fu_a(nal: bytes, size: int) -> list[bytes]:
    """An H.264 NAL unit cut into FU-A payloads."""
    header, body = nal[0], nal[1:]
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    packets = []
    for index, piece in enumerate(pieces):
        fu = (header & 0x1F) | (0x80 if index == 0 else 0) | (0x40 if index == len(pieces) - 1 else 0)
        packets.append(bytes([(header & 0xE0) | 28, fu]) + piece)
    return packets


def test_fragments_aggregates_and_a_lost_packet() -> None:
    sps, pps, idr, slice_ = b"\x67" + b"s" * 10, b"\x68" + b"p" * 4, b"\x65" + b"i" * 3000, b"\x41" + b"x" * 500
    depacketizer = Depacketizer("h264", [sps, pps])
    packets = _fu_a(idr, 1000)
    units = []
    for sequence, payload in enumerate(packets):
        units += depacketizer.push(payload, sequence, 9000, sequence == len(packets) - 1)
    assert len(units) == 1 and units[0].keyframe
    assert units[0].data == START + sps + START + pps + START + idr  # parameter sets put in front
    stap = bytes([24]) + len(slice_).to_bytes(2, "big") + slice_ + len(slice_).to_bytes(2, "big") + slice_
    assert depacketizer.push(stap, 3, 12000, True)[0].data == (START + slice_) * 2
    # A lost packet: that access unit and everything up to the next keyframe are dropped.
    assert depacketizer.push(slice_, 5, 15000, True) == []
    assert depacketizer.push(slice_, 6, 18000, True) == []
    again = _fu_a(idr, 1000)
    units = [u for i, p in enumerate(again) for u in depacketizer.push(p, 7 + i, 21000, i == len(again) - 1)]
    assert len(units) == 1 and units[0].keyframe and depacketizer.lost == 2
    assert Depacketizer("h264").push(slice_, 0, 0, True) == []  # nothing before a first keyframe
    assert depacketizer.push(b"\x7c", 10, 24000, True) == []  # a truncated fragment does not break it


def test_a_server_that_asked_for_digest_never_gets_the_password_in_clear(
    rtsp_server: Callable[..., RtspServer],
) -> None:
    """A man in the middle answering for the camera with a Basic challenge gets nothing: once a
    server has asked this process for Digest, a Basic request from it is refused."""
    digest = rtsp_server(login=("digest", "cam", PASSWORD))
    client = RtspClient(digest.url("cam:S3cret%3A%40%2Fpw"), 5, 3)
    try:
        assert _read(client, 2)[1] == 2
    finally:
        client.close()
    digest.stop()
    impostor = RtspServer(login=("basic", "cam", PASSWORD))
    impostor.port = digest.port  # the same address, now asking for Basic
    impostor.start()
    try:
        downgraded = RtspClient(digest.url("cam:S3cret%3A%40%2Fpw"), 5, 3)
        with pytest.raises(RtspError, match="Basic login after a Digest") as error:
            downgraded.open()
        downgraded.close()
        assert error.value.status == 401
    finally:
        impostor.stop()


def test_an_rtsps_camera_pinned_by_its_certificate(rtsp_server: Callable[..., RtspServer], tmp_path: Path) -> None:
    """rtsps:// with `tls_fingerprint`: the pinned certificate streams; another is refused before a
    byte (the login included) is sent; the probe shows the fingerprint to pin."""
    server = rtsp_server(login=("digest", "cam", PASSWORD))
    proxy = TlsProxy(server.port, tmp_path / "tls")
    try:
        url = proxy.url("cam:S3cret%3A%40%2Fpw")
        pinned = RtspClient(url, 5, 3, pin=proxy.fingerprint)
        try:
            assert _read(pinned, 3)[1] == 3 and pinned.tls_fingerprint == proxy.fingerprint
        finally:
            pinned.close()
        proxy.wait_idle()  # the pinned client's TEARDOWN may still be on its way through
        sent_before = proxy.bytes_to_backend
        impostor = RtspClient(url, 5, 3, pin="0" * 64)
        with pytest.raises(RtspError, match="not the pinned one"):
            impostor.open()
        impostor.close()
        time.sleep(0.2)
        assert proxy.bytes_to_backend == sent_before  # nothing reached the server, no login
        answer = probe(url)
        assert answer["ok"] and answer["tlsFingerprint"] == proxy.fingerprint, answer
    finally:
        proxy.close()
