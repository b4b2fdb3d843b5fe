"""Debian's Chromium, headless, driven by Playwright, set up as WebRTC on loopback needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# Headless on a closed network: no first-run, no background calls; loopback allowed for WebRTC.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
    "--disable-rtc-smoothness-algorithm",
]  # fmt: skip


@contextmanager
def browser_page(
    width: int = 1280, height: int = 860, init_script: str | None = None, colour_scheme: str = "light"
) -> Iterator[Any]:
    """A page in a fresh headless Chromium, closed on exit.

    The context is granted camera and microphone: without them Chromium hides its host
    candidates behind mDNS names, which aiortc cannot resolve."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only the browser tests need it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                permissions=["camera", "microphone"], viewport={"width": width, "height": height},
                color_scheme=colour_scheme,
            )  # fmt: skip
            page = context.new_page()
            if init_script:
                page.add_init_script(init_script)
            yield page
        finally:
            browser.close()
