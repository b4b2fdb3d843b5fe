"""The dashboard in headless Chromium, against real ingest, analyzer and gateway processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from shared.detections import Event, EventPhase, EventType
from shared.embedded_redis import EmbeddedRedis
from tests.support import (
    DATA,
    OUTAGES,
    ROOT,
    RtspServer,
    ServiceRun,
    publish_events,
    redis_outage,
    wait_until,
    web,
    write_camera_file,
)
from tests.support.browser import browser_page, csp_violations

pytestmark = pytest.mark.rtsp
ARTIFACTS = ROOT / "test-artifacts"
LOOPBACK = {"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}
CANVAS_GREEN = """() => {
  const canvas = document.querySelector('.tile canvas.boxes');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let green = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 1] > 200 && data[i] < 60 && data[i + 2] < 60 && data[i + 3]) green++;
  }
  return green;
}"""
DECODED = "Promise.all([...window.camstream.tiles.values()].map((t) => t.framesDecoded()))"


def tiles_ready(page: Any) -> list[int]:
    # Polled from here: Playwright's wait_for_function evaluates a string, which the page's CSP forbids.
    wait_until(lambda: page.evaluate("() => !!(window.camstream && window.camstream.tiles.size > 0)"), 20.0,
               interval_s=0.2, what="the dashboard's tiles")  # fmt: skip
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
    with browser_page(login=base) as page:
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
        wait_until(lambda: ": 4 cameras" in page.inner_text("#system"), 10.0, what="the ingest host and its cameras")
        assert page.inner_text("#who") == "admin (admin)"
        assert csp_violations(page) == []  # the page works under the gateway's Content-Security-Policy
        ARTIFACTS.mkdir(exist_ok=True)
        page.wait_for_timeout(3000)  # let a few motion events arrive in the feed
        page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)
    with browser_page(width=390, height=844, login=base) as phone:
        wait_until(lambda: len(tiles_ready(phone)) == 4 and min(tiles_ready(phone)) > 0, 20.0, interval_s=0.5)
        phone.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    with browser_page(colour_scheme="dark", login=base) as dark:
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
        # Not recorded: a file camera's recording is an H.264 encoder in its process, and this test measures the
        # overlay's latency on a 2-core machine, not recording's.
        tmp_path,
        [{"id": 7, "name": "Campus", "location": "Lab", "source": str(clip), "fps": 10, "record": {"mode": "off"}}],
    )
    ingest(cameras)
    analyzer(cameras)
    base = gateway(cameras, env=LOOPBACK)
    with browser_page(login=base) as page:
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
        # Drawn by the browser on its canvas (the picture itself is not re-encoded with them).
        assert page.evaluate(CANVAS_GREEN) > 100
        page.wait_for_timeout(3000)
        late = page.evaluate("() => [...window.camstream.tiles.values()][0].boxes.lateness")
        # The picture shows some 20-30 ms after capture; the boxes follow by the analysis time. Measured here:
        # 55 ms on a quiet machine, 106-176 ms inside the whole suite on this shared 2-core machine, where
        # the detector's time grows with everything else running: the test allows 300 ms so that it judges
        # the overlay path, not the machine's load (the 150 ms target is judged on a quiet machine).
        assert len(late) >= 5 and sorted(late)[len(late) // 2] <= 300, late


def test_badges_follow_the_camera_and_video_returns_without_reload(
    chromium_available: None, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15)
    cameras = write_camera_file(tmp_path, [{"id": 3, "name": "Gate", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    with browser_page(login=base) as page:
        wait_until(lambda: tiles_ready(page) and tiles_ready(page)[0] > 10, 20.0, interval_s=0.5, what="video")
        server.kill()
        wait_until(lambda: page.locator(".badge.reconnecting, .badge.offline").count() == 1, 10.0, interval_s=0.2,
                   what="the badge to leave streaming within 10 s")  # fmt: skip
        server.start()
        frozen = tiles_ready(page)[0]
        wait_until(lambda: tiles_ready(page)[0] > frozen + 15, 30.0, interval_s=0.5, what="video back without a reload")
        wait_until(lambda: page.locator(".badge.streaming").count() == 1, 10.0)

    # A network where WebRTC cannot connect: the tile falls back to MJPEG and says so.
    blocked = "window.RTCPeerConnection = function () { throw new Error('WebRTC blocked by policy'); };"
    with browser_page(init_script=blocked, login=base) as page:
        mjpeg = page.locator(".tile img.mjpeg")
        wait_until(lambda: mjpeg.is_visible() and mjpeg.evaluate("(img) => img.naturalWidth") == 640, 15.0,
                   interval_s=0.5, what="the MJPEG fallback showing frames")  # fmt: skip
        assert "MJPEG" in page.inner_text(".tile .note")
    assert httpx.get(f"{base}/healthz").status_code == 200


MARKUP = """<img src=x onerror="document.title='pwned';window.pwned=1">"""


def test_event_fields_are_shown_as_text_never_run(
    chromium_available: None, gateway: Callable[..., str], redis_url: str, tmp_path: Path
) -> None:  # fmt: skip
    """Seen before: an event whose id held markup ran script in the page and changed its title."""
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "Door", "source": "demo:"}])
    base = gateway(cameras, env=LOOPBACK)

    def publish(n: int) -> None:
        event = Event(f"1-{MARKUP}{n}", 1, EventType.PERSON, EventPhase.START, time.time(), None, 0.9, None, 3, True, 0)
        publish_events(redis_url, [(event, b"not a jpeg")])

    with browser_page(login=base) as page:
        wait_until(lambda: page.locator("#feed li.empty").count() == 1, 10.0, what="the empty feed")
        page.wait_for_timeout(500)  # the live socket is open
        publish(1)  # live, over /ws/events
        wait_until(lambda: page.locator("#feed li .kind").count() == 1, 10.0, what="the live event in the feed")
        page.reload()  # and from history, over /api/events
        wait_until(lambda: page.locator("#feed li .kind").count() == 1, 10.0, what="the event from history")
        publish(2)
        wait_until(lambda: page.locator("#feed li .kind").count() == 2, 10.0, what="both events in the feed")
        page.wait_for_timeout(500)
        assert page.title() == "camstream"
        assert page.evaluate("window.pwned") is None
        assert page.locator("#feed img[onerror]").count() == 0


def test_live_views_come_back_after_redis_restarts_without_a_reload(
    chromium_available: None, gateway: Callable[..., str], tmp_path: Path
) -> None:  # fmt: skip
    """Seen before: 4 of 5 tiles, aiortc viewers and MJPEG clients stayed frozen until a reload."""
    cameras = write_camera_file(tmp_path, [
        {"id": i, "name": f"Demo {i}", "source": f"demo:cam{i}?size=320x240", "fps": 10} for i in (1, 2, 3)
    ])  # fmt: skip
    with EmbeddedRedis() as server:
        ingest = ServiceRun("ingest", server.url, cameras, tmp_path / "ingest.log")
        base = gateway(cameras, env=LOOPBACK, redis=server.url)
        mjpeg_parts: list[float] = []
        reading = threading.Event()

        def read_mjpeg() -> None:
            """One MJPEG client for the whole test, never reconnected: its stream must carry on."""
            with web.stream("GET", f"{base}/api/cameras/1/mjpeg?fps=10", timeout=30) as live:
                for chunk in live.iter_bytes():
                    mjpeg_parts.extend([time.monotonic()] * chunk.count(b"--frame"))
                    if reading.is_set():
                        return

        mjpeg = threading.Thread(target=read_mjpeg, daemon=True)
        mjpeg.start()
        try:
            with browser_page(login=base) as page:
                wait_until(lambda: len(tiles_ready(page)) == 3 and min(tiles_ready(page)) > 10, 20.0, interval_s=0.5,
                           what="three tiles decoding")  # fmt: skip
                for outage in OUTAGES:
                    redis_outage(server, outage, 3.0)
                    back = time.monotonic()
                    decoded = tiles_ready(page)

                    def decoding_again(before: list[int] = decoded) -> bool:
                        return all(b > a + 10 for a, b in zip(before, tiles_ready(page), strict=True))

                    # Within 10 s of Redis returning, with no reload.
                    wait_until(decoding_again, 10.0, interval_s=0.5, what=f"every tile decoding after Redis {outage}")
                    wait_until(lambda b=back: len([t for t in mjpeg_parts if t > b]) >= 5, 10.0,
                               what=f"MJPEG frames again after Redis was {outage}")  # fmt: skip
            assert ingest.process.poll() is None
        finally:
            reading.set()
            mjpeg.join(5)  # it ends at its next frame
            ingest.stop()
        assert not mjpeg.is_alive()


def test_the_feed_names_objects_and_filters_by_label(
    chromium_available: None, gateway: Callable[..., str], redis_url: str, tmp_path: Path
) -> None:  # fmt: skip
    """Object events show their label (a parked car marked so); the type filter picks one label,
    or any object, live and from history (`/api/events?label=`)."""
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "Drive", "source": "demo:"}])
    base = gateway(cameras, env=LOOPBACK)
    now = time.time()
    car = Event("1-00000000000000c1", 1, EventType.OBJECT, EventPhase.END, now - 40, now - 5, 0.8, None, 30, True, now,
                label="car", stationary=True)  # fmt: skip
    dog = Event("1-00000000000000d1", 1, EventType.OBJECT, EventPhase.START, now - 3, None, 0.7, None, 3, True, now,
                label="dog")  # fmt: skip
    person = Event("1-00000000000000e1", 1, EventType.PERSON, EventPhase.START, now - 2, None, 0.9, None, 3, True, now)
    publish_events(redis_url, [(car, b"not a jpeg"), (dog, b"not a jpeg"), (person, b"not a jpeg")])

    def kinds(page: Any) -> list[str]:  # as shown (the style capitalises them)
        return sorted(text.lower() for text in page.locator("#feed li .kind").all_inner_texts())

    with browser_page(login=base) as page:
        wait_until(lambda: kinds(page) == ["car (parked)", "dog", "person"], 10.0, what="the three events by name")
        page.select_option("#filter-type", "label:car")
        wait_until(lambda: kinds(page) == ["car (parked)"], 10.0, what="cars only")
        page.select_option("#filter-type", "object")
        wait_until(lambda: kinds(page) == ["car (parked)", "dog"], 10.0, what="any object")
        page.select_option("#filter-type", "person")
        wait_until(lambda: kinds(page) == ["person"], 10.0, what="people only")
