"""Settings -> Cameras in headless Chromium: an admin probes an RTSP camera, adds it, and its new
tile plays; real ingest and gateway processes apply the change while they run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import RtspServer, ServiceRun, wait_until, web, write_camera_file
from tests.support.browser import browser_page, csp_violations
from tests.support.peer import LOOPBACK

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


@pytest.mark.usefixtures("chromium_available")
def test_an_admin_draws_a_zone_a_mask_a_named_zone_and_a_line_and_the_camera_keeps_them(
    ingest: Callable[..., ServiceRun], gateway: Callable[..., str], tmp_path: Path
) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "yard", "source": "demo:?size=320x180",
                                            "analysis": {"enabled": False, "person": False},
                                            "record": {"mode": "off"}}])  # fmt: skip
    ingest(cameras, env=LOOPBACK)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: web.get(f"{base}/api/cameras/1/snapshot.jpg").status_code == 200, 15.0, what="a frame")
    zone = [(0.1, 0.5), (0.9, 0.5), (0.9, 0.95), (0.1, 0.95)]
    mask = [(0.6, 0.1), (0.9, 0.1), (0.75, 0.4)]
    till = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4)]
    door = [(0.5, 0.9), (0.5, 0.3)]
    answers = ["till", "30", "door"]  # the named zone's name and loitering time, the line's name
    with browser_page(login=base) as page:
        page.on("dialog", lambda dialog: dialog.accept(answers.pop(0)))
        page.locator("#open-cameras").click()
        page.locator("#camera-list tbody tr[data-camera='1'] button", has_text="Zones").click()
        picture = page.locator("#zone-editor img")
        wait_until(lambda: page.evaluate("document.querySelector('#zone-editor img').naturalWidth") == 320, 10.0,
                   interval_s=0.2, what="the camera's picture in the editor")  # fmt: skip

        def place(corners: list[tuple[float, float]]) -> None:
            picture.scroll_into_view_if_needed()
            frame = picture.bounding_box()  # again each time: the panel scrolls
            assert frame is not None and frame["width"] > 200
            for x, y in corners:
                page.mouse.click(frame["x"] + x * frame["width"], frame["y"] + y * frame["height"])
            page.locator("#zone-finish").click()

        place(zone)
        page.locator("#zone-editor input[value=motion_masks]").check()
        place(mask)
        page.locator("#zone-editor input[value=zones]").check()
        place(till)
        page.locator("#zone-editor input[value=lines]").check()
        place(door)
        assert page.inner_text("#zone-list").count("Remove") == 4, page.inner_text("#zone-editor")
        assert page.locator("#zone-editor svg polygon.zone").count() == 1
        assert page.locator("#zone-editor svg polygon.mask").count() == 1
        assert page.locator("#zone-editor svg polygon.named").count() == 1
        assert page.locator("#zone-editor svg polyline.line").count() == 1
        assert page.locator("#zone-editor svg polyline.arrow").count() == 1  # the way that counts as in
        assert "door (in →)" in page.locator("#zone-editor svg text").all_text_contents()
        page.locator("#zone-save").click()
        wait_until(lambda: "Saved" in page.inner_text("#zone-message"), 10.0, interval_s=0.2, what="saved")
        assert not csp_violations(page)

    analysis = web.get(f"{base}/api/cameras/1/config").json()["analysis"]
    for drawn, clicked in ((analysis["motion_zones"], zone), (analysis["motion_masks"], mask)):
        assert len(drawn) == 1 and len(drawn[0]) == len(clicked)
        for (x, y), (want_x, want_y) in zip(drawn[0], clicked, strict=True):
            assert abs(x - want_x) < 0.02 and abs(y - want_y) < 0.02, (drawn, clicked)
    assert analysis["person"] is False and analysis["enabled"] is False  # the rest of analysis unchanged
    [named] = analysis["zones"]
    assert (named["name"], named["loiter_s"], len(named["points"])) == ("till", 30, 3)
    [line] = analysis["lines"]
    assert line["name"] == "door" and all(abs(a - b) < 0.02 for p, q in zip(line["points"], door, strict=True)
                                          for a, b in zip(p, q, strict=True))  # fmt: skip
