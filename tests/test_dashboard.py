"""The dashboard in headless Chromium, against real ingest, analyzer and gateway processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support import DATA, ROOT, RtspServer, ServiceRun, wait_until, write_camera_file
from tests.support.browser import browser_page

pytestmark = pytest.mark.rtsp
ARTIFACTS = ROOT / "test-artifacts"
LOOPBACK = {"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}
DECODED = "Promise.all([...window.camstream.tiles.values()].map((t) => t.framesDecoded()))"


def tiles_ready(page: Any) -> list[int]:
    page.wait_for_function("window.camstream && window.camstream.tiles.size > 0", timeout=20000)
    return [int(n) for n in page.evaluate(DECODED)]


def green_pixels(png: bytes) -> int:
    import cv2  # noqa: PLC0415

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return int(((image[..., 1] > 180) & (image[..., 0] < 110) & (image[..., 2] < 110)).sum())


def test_demo_cameras_play_and_the_page_fits_desktop_and_phone(
    chromium_available: None, ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun],
    gateway: Callable[..., str],
) -> None:  # fmt: skip
    ingest(None)  # the built-in demo cameras
    analyzer(None)
    base = gateway(None, env=LOOPBACK)
    with browser_page() as page:
        page.goto(base + "/")
        wait_until(lambda: len(tiles_ready(page)) == 4 and min(tiles_ready(page)) > 0, 20.0, interval_s=0.5,
                   what="four tiles decoding")  # fmt: skip
        before = tiles_ready(page)
        page.wait_for_timeout(2000)
        after = tiles_ready(page)
        assert all(b - a >= 10 for a, b in zip(before, after, strict=True)), (before, after)
        names = page.locator(".tile .name").all_inner_texts()
        assert names == ["Front Door Camera", "Back Yard Camera", "Garage Camera", "Side Entrance Camera"]
        wait_until(lambda: page.locator(".badge.streaming").count() == 4, 10.0, what="four streaming badges")
        wait_until(lambda: "analyzer worker" in page.inner_text("#system"), 10.0, what="the system panel")
        assert "CPU" in page.inner_text("#system") or "CUDA" in page.inner_text("#system")
        ARTIFACTS.mkdir(exist_ok=True)
        page.wait_for_timeout(3000)  # let a few motion events arrive in the feed
        page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)
    with browser_page(width=390, height=844) as phone:
        phone.goto(base + "/")
        wait_until(lambda: len(tiles_ready(phone)) == 4 and min(tiles_ready(phone)) > 0, 20.0, interval_s=0.5)
        phone.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    with browser_page(colour_scheme="dark") as dark:
        dark.goto(base + "/")
        wait_until(lambda: len(tiles_ready(dark)) == 4 and min(tiles_ready(dark)) > 0, 20.0, interval_s=0.5)
        dark.screenshot(path=str(ARTIFACTS / "dashboard-desktop-dark.png"), full_page=True)


def test_events_snapshots_and_the_overlay(
    chromium_available: None, ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    clip = DATA / "TUD-Campus.mp4"
    if not clip.exists():
        pytest.skip(f"test footage missing: {clip}")
    cameras = write_camera_file(
        tmp_path, [{"id": 7, "name": "Campus", "location": "Lab", "source": str(clip), "fps": 10}]
    )
    ingest(cameras)
    analyzer(cameras)
    base = gateway(cameras, env=LOOPBACK)
    with browser_page() as page:
        page.goto(base + "/")
        wait_until(lambda: tiles_ready(page) and tiles_ready(page)[0] > 10, 20.0, interval_s=0.5, what="the tile")
        person = page.locator(".feed li", has_text="person").first
        person.wait_for(timeout=30000)
        assert "Campus" in person.inner_text()
        thumbnail = person.locator("img")
        wait_until(lambda: thumbnail.evaluate("(img) => img.complete && img.naturalWidth") == 640, 10.0)
        person.click()
        dialog_image = page.locator("dialog#snapshot img")
        wait_until(lambda: dialog_image.evaluate("(img) => img.complete && img.naturalWidth") == 640, 10.0)
        page.keyboard.press("Escape")

        page.select_option("#filter-type", "face")
        wait_until(lambda: "person" not in page.inner_text("#feed").lower(), 5.0, what="the type filter")
        page.select_option("#filter-type", "")

        tile = page.locator(".tile").first
        plain = green_pixels(tile.screenshot())
        page.locator(".tile button.overlay").first.click()
        wait_until(lambda: green_pixels(tile.screenshot()) > plain + 300, 15.0, interval_s=0.5,
                   what="the overlay's green person boxes")  # fmt: skip


def test_badges_follow_the_camera_and_video_returns_without_reload(
    chromium_available: None, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15)
    cameras = write_camera_file(tmp_path, [{"id": 3, "name": "Gate", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    with browser_page() as page:
        page.goto(base + "/")
        wait_until(lambda: tiles_ready(page) and tiles_ready(page)[0] > 10, 20.0, interval_s=0.5, what="video")
        server.kill()
        stopped = time.monotonic()
        wait_until(lambda: page.locator(".badge.reconnecting, .badge.offline").count() == 1, 10.0, interval_s=0.2,
                   what="the badge to leave streaming")  # fmt: skip
        assert time.monotonic() - stopped <= 10.0
        server.start()
        frozen = tiles_ready(page)[0]
        wait_until(lambda: tiles_ready(page)[0] > frozen + 15, 30.0, interval_s=0.5, what="video back without a reload")
        wait_until(lambda: page.locator(".badge.streaming").count() == 1, 10.0)

    # A network where WebRTC cannot connect: the tile falls back to MJPEG and says so.
    blocked = "window.RTCPeerConnection = function () { throw new Error('WebRTC blocked by policy'); };"
    with browser_page(init_script=blocked) as page:
        page.goto(base + "/")
        mjpeg = page.locator(".tile img.mjpeg")
        wait_until(lambda: mjpeg.is_visible() and mjpeg.evaluate("(img) => img.naturalWidth") == 640, 15.0,
                   interval_s=0.5, what="the MJPEG fallback showing frames")  # fmt: skip
        assert "MJPEG" in page.inner_text(".tile .note")
    assert httpx.get(f"{base}/healthz").status_code == 200
