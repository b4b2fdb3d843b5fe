"""Probing a camera before adding it (POST /api/cameras/probe): a real RTSP server, a closed port,
a server that wants other credentials, one that talks garbage; URLs of other schemes refused."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.embedded_redis import free_port
from tests.support import RtspServer, web, write_camera_file

pytestmark = pytest.mark.rtsp


@pytest.fixture
def base(gateway: Callable[..., str], tmp_path: Path) -> str:
    return gateway(write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:"}]))


@pytest.fixture
def garbage_port() -> Iterator[int]:
    """A TCP server on loopback that answers anything with noise."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(4096)
                connection.sendall(b"\x16\x03\x01 this is not RTSP at all \x00\xff\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield port
    listener.close()


def probe(base: str, source: str) -> tuple[int, dict[str, object]]:
    reply = web.post(f"{base}/api/cameras/probe", json={"source": source}, timeout=30)
    return reply.status_code, reply.json()


def test_a_probe_answers_what_the_camera_sends(base: str, rtsp_server: Callable[..., RtspServer]) -> None:
    server = rtsp_server(size="640x360", fps=15, gop=30, audio="pcmu")
    status, answer = probe(base, server.url())
    assert status == 200, answer
    assert answer["codec"] == "h264" and (answer["width"], answer["height"]) == (640, 360)
    assert abs(float(answer["fps"]) - 15) < 1.0  # type: ignore[arg-type]
    assert abs(float(answer["keyframeIntervalS"]) - 2.0) < 0.1  # type: ignore[arg-type]
    assert answer["audio"] == "pcm_mulaw"


def test_a_probe_says_why_a_camera_cannot_be_read(
    base: str, rtsp_server: Callable[..., RtspServer], garbage_port: int
) -> None:
    guarded = rtsp_server(login=("digest", "admin", "right-Passw0rd"))
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never answers
    cases = [
        (f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam", "sent nothing for 3 s"),  # timed out
        (f"rtsp://127.0.0.1:{free_port()}/cam", "cannot connect"),  # nobody listens there
        (guarded.url("admin:wrong-password"), "refused the login"),
        (f"rtsp://127.0.0.1:{garbage_port}/cam", "not RTSP"),
    ]
    for source, words in cases:
        status, answer = probe(base, source)
        assert status == 422 and words in str(answer["detail"]), (source, answer)
        assert "wrong-password" not in str(answer)
    silent.close()
    for source in ("file:///etc/passwd", "/etc/passwd", "http://127.0.0.1:1/", "demo:", "RTSPX://x"):
        status, answer = probe(base, source)
        assert status == 400 and "only rtsp://" in str(answer["detail"]), (source, answer)
