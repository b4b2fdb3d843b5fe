"""Integrations in headless Chromium: an admin adds a notification target and a webhook, the Test
button sends a notification with a camera's picture, and the bridge's targets are listed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ServiceRun, wait_until, web, write_camera_file
from tests.support.browser import browser_page, csp_violations
from tests.support.receiver import Receiver


@pytest.mark.usefixtures("chromium_available")
def test_an_admin_adds_integrations_and_sends_a_test_notification(
    ingest: Callable[..., ServiceRun], bridge: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "yard", "source": "demo:?size=320x180",
                                            "analysis": {"enabled": False}, "record": {"mode": "off"}}])  # fmt: skip
    ingest(cameras)
    base = gateway(cameras)
    bridge(cameras)
    wait_until(lambda: web.get(f"{base}/api/cameras/1/snapshot.jpg").status_code == 200, 15.0, what="a frame")
    inbox, hook = Receiver(), Receiver()
    try:
        with browser_page(login=base) as page:
            page.locator("#open-integrations").click()
            notify = page.locator("#notify-form")
            notify.locator("input[name=name]").fill("phone")
            notify.locator("input[name=url]").fill(f"json://127.0.0.1:{inbox.server_address[1]}/notify")
            notify.locator("button[type=submit]").click()
            row = page.locator("#notify-list tbody tr").first
            row.wait_for()
            assert "json://127.0.0.1" in row.inner_text() and "/notify" not in row.inner_text()  # masked
            row.locator("button", has_text="Test").click()
            wait_until(lambda: "sent" in page.inner_text("#integrations-message"), 25.0, interval_s=0.2,
                       what="the test notification sent")  # fmt: skip
            sent = json.loads(inbox.delivered()[0].body)
            assert sent["title"] == "camstream: test notification"
            assert base64.b64decode(sent["attachments"][0]["base64"])[:2] == b"\xff\xd8"

            webhook = page.locator("#webhook-form")
            webhook.locator("input[name=name]").fill("automation")
            webhook.locator("input[name=url]").fill(hook.url)
            webhook.locator("button[type=submit]").click()
            wait_until(lambda: "shown once" in page.inner_text("#webhook-secret"), 10.0, interval_s=0.2,
                       what="the generated secret")  # fmt: skip
            page.locator("#webhook-list tbody tr").first.wait_for()

            page.keyboard.press("Escape")
            wait_until(lambda: "integrations 2/2" in page.inner_text("#system"), 20.0, interval_s=0.5,
                       what="the bridge's targets in the system panel")  # fmt: skip
            page.locator("#open-integrations").click()
            page.locator("#integration-status tbody tr[data-target='webhook:2']").wait_for(timeout=10000)
            assert not csp_violations(page)
    finally:
        inbox.close()
        hook.close()
