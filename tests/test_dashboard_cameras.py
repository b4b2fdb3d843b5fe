"""Settings -> Cameras in headless Chromium: an admin probes an RTSP camera, adds it, and its new
tile plays; real ingest and gateway processes apply the change while they run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import RtspServer, ServiceRun, wait_until, write_camera_file
from tests.support.browser import browser_page, csp_violations
from tests.test_gateway_webrtc import LOOPBACK

pytestmark = pytest.mark.rtsp


@pytest.mark.usefixtures("chromium_available")
def test_an_admin_adds_a_camera_from_the_dashboard_and_its_tile_plays(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "own", "source": "demo:?size=320x180",
                                            "analysis": {"enabled": False}, "record": {"mode": "off"}}])  # fmt: skip
    ingest(cameras, env=LOOPBACK)
    base = gateway(cameras, env=LOOPBACK)
    with browser_page(login=base) as page:
        page.locator("#open-cameras").click()
        page.locator("#camera-list tbody tr").first.wait_for()
        form = page.locator("#camera-form")
        form.locator("input[name=name]").fill("Porch")
        form.locator("input[name=source]").fill(server.url())
        page.locator("#camera-probe").click()
        wait_until(lambda: "h264 320x180" in page.inner_text("#cameras-message"), 20.0, interval_s=0.2,
                   what="the probe's answer")  # fmt: skip
        form.locator("button[type=submit]").click()
        wait_until(lambda: "Saved" in page.inner_text("#cameras-message"), 10.0, interval_s=0.2, what="saved")
        wait_until(lambda: page.locator("#camera-list tbody tr[data-camera='2']").count() == 1, 5.0,
                   interval_s=0.2, what="the new camera listed")  # fmt: skip
        page.keyboard.press("Escape")
        tile = page.locator(".tile[data-camera='2']")
        tile.wait_for(timeout=15000)
        assert "Porch" in tile.inner_text()
        decoded = "() => window.camstream.tiles.get(2) ? window.camstream.tiles.get(2).framesDecoded() : 0"
        wait_until(lambda: page.evaluate(decoded) > 10, 25.0, interval_s=0.5, what="the new tile playing")
        assert not csp_violations(page)
