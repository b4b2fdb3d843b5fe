"""Headless Chromium plays a camera through the gateway's player page."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.embedded_redis import free_port
from tests.support import ROOT, RtspServer, ServiceRun, wait_until, web, write_camera_file
from tests.support.browser import browser_page, csp_violations, log_in_here

pytestmark = pytest.mark.rtsp


def test_chromium_plays_a_camera(
    chromium_available: None, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "live", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env={"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"})
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")

    with browser_page(width=960, height=600, login=base, then="/player?camera=1") as page:
        first = wait_until(lambda: (n := page.evaluate("window.framesDecoded()")) >= 10 and n, 20.0, interval_s=0.25,
                           what="Chromium to decode 10 frames")  # fmt: skip
        page.wait_for_timeout(2000)
        later = page.evaluate("window.framesDecoded()")
        assert later - first >= 20, (first, later)  # about 30 at 15 fps
        assert page.evaluate("document.getElementById('video').videoWidth") == 640
        assert csp_violations(page) == []
        page.goto(f"{base}/docs")  # Swagger UI 5, from the gateway's own files, renders the OpenAPI 3.1 schema
        page.wait_for_selector(".opblock", timeout=15000)
        assert page.locator(".opblock").count() > 20 and csp_violations(page) == []
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "player.png"))
    wait_until(lambda: not web.get(f"{base}/api/streams/status").json()["sessions"], 20.0, interval_s=0.5,
               what="the browser's session to be freed")  # fmt: skip

    # After a login, `next` is followed only on this site: "/<tab>/host" passes a test of its text and
    # the browser, dropping the tab, would go to that host (a loopback one here, never outside). The
    # dashboard the refused ones land on is answered by a stand-in: its live video is not the subject.
    with browser_page() as page:
        page.route(f"{base}/", lambda route: route.fulfill(body="dashboard", content_type="text/plain"))
        elsewhere = f"127.0.0.2:{free_port()}"
        for next_path in (f"/%09/{elsewhere}/x", f"/%5C{elsewhere}/x", f"/.//{elsewhere}/x", f"https:{elsewhere}"):
            page.goto(f"{base}/login?next={next_path}")
            log_in_here(page)
            page.wait_for_url(lambda url: "/login" not in url, timeout=10000)
            assert page.url.startswith(f"{base}/"), (next_path, page.url)


def test_a_picture_within_a_second_though_the_camera_keyframes_every_4_s(
    chromium_available: None, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15, gop=60)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "slow keyframes", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env={"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"})
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    with browser_page(login=base) as page:
        waits = []
        for _ in range(3):
            started = time.monotonic()
            page.goto(f"{base}/player?camera=1")
            wait_until(lambda: page.evaluate("window.framesDecoded ? window.framesDecoded() : 0") > 0, 5.0,
                       interval_s=0.02, what="the first picture")  # fmt: skip
            waits.append(time.monotonic() - started)
        assert sorted(waits)[1] <= 1.0, waits  # the transcoder's keyframe first, the camera's own later
        print("first picture after", [round(w, 2) for w in waits], "s")
        page.wait_for_timeout(4500)  # past the camera's next keyframe
        live = [
            s for s in web.get(f"{base}/api/streams/status").json()["sessions"] if s["connectionState"] == "connected"
        ]
        assert live and live[-1]["mode"] == "passthrough"


def test_an_h265_camera_plays_in_chromium_through_the_transcoder(
    chromium_available: None, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15, codec="h265")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "hevc", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env={"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"})
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    with browser_page(login=base, then="/player?camera=1") as page:
        wait_until(lambda: page.evaluate("window.framesDecoded ? window.framesDecoded() : 0") >= 30, 20.0,
                   interval_s=0.25, what="Chromium to decode 30 frames")  # fmt: skip
        assert page.evaluate("document.getElementById('video').videoWidth") == 640
        sessions = web.get(f"{base}/api/streams/status").json()["sessions"]
        assert [s["mode"] for s in sessions] == ["transcoded"]  # browsers take no H.265 over WebRTC
