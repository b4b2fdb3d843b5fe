"""Faces in headless Chromium: a face event's snapshot enrolled from the event dialog, a picture
uploaded in the Faces panel, both listed; a named face event shows its name in the feed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import pytest

from shared.db.engine import create_engine
from shared.db.events import EventHistory, StoredEvent
from shared.db.url import database_url
from shared.detections import Box, Event, EventPhase, EventType
from shared.settings import Settings
from tests.support import DATA, wait_until, write_camera_file
from tests.support.browser import browser_page, csp_violations

CLIP = DATA / "tears_of_steel_clip01_640x360.mp4"


async def _store(events: list[StoredEvent]) -> None:
    engine = create_engine(database_url(Settings()))
    try:
        await EventHistory(engine).store(events)
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("chromium_available")
def test_an_admin_enrols_faces_from_an_event_and_from_an_upload(gateway: Callable[..., str], tmp_path: Path) -> None:
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    with av.open(str(CLIP)) as container:
        shots = {i: f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i in (70, 232)}
    woman = cv2.imencode(".jpg", shots[232])[1].tobytes()
    glasses = tmp_path / "glasses.jpg"
    glasses.write_bytes(cv2.imencode(".jpg", shots[70])[1].tobytes())
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "film", "source": "demo:?size=320x180"}])
    base = gateway(cameras)
    now = time.time()
    face, started = (EventType.FACE, EventPhase.END), now - 3
    unknown = Event("1-00000000000000f1", 1, *face, started, now - 1, 0.93, Box(210, 40, 200, 200), 5, True, now,
                    None, 0.12)  # fmt: skip
    named = Event("1-00000000000000f2", 1, *face, started + 1, now - 1, 0.9, Box(350, 10, 150, 180), 5, True, now,
                  "Glasses", 0.74)  # fmt: skip
    asyncio.run(_store([StoredEvent(unknown, woman), StoredEvent(named, woman)]))
    with browser_page(login=base) as page:
        feed = page.locator("#feed")
        wait_until(lambda: "face · glasses (74 %)" in feed.inner_text().lower()
                   and "face · unknown" in feed.inner_text().lower(), 15.0, interval_s=0.3,
                   what="face events named in the feed")  # fmt: skip
        page.locator(".feed li", has_text="nknown").first.click()
        enrol = page.locator("#enrol-form")
        enrol.wait_for()
        enrol.locator("input[name=name]").fill("Woman")
        enrol.locator("button[type=submit]").click()
        wait_until(lambda: "Enrolled: Woman has 1" in page.inner_text("#enrol-message"), 15.0, interval_s=0.3,
                   what="enrolled from the event")  # fmt: skip
        page.keyboard.press("Escape")

        page.locator("#open-faces").click()
        form = page.locator("#face-form")
        form.locator("input[name=name]").fill("Glasses")
        form.locator("input[name=picture]").set_input_files(str(glasses))
        form.locator("button[type=submit]").click()
        wait_until(lambda: "Glasses: 1 picture" in page.inner_text("#faces-message"), 15.0, interval_s=0.3,
                   what="enrolled from the upload")  # fmt: skip
        rows = page.locator("#face-list tbody tr")
        wait_until(lambda: rows.count() == 2, 5.0, interval_s=0.2, what="two people listed")
        assert [rows.nth(i).get_attribute("data-name") for i in range(2)] == ["Glasses", "Woman"]
        assert not csp_violations(page)
