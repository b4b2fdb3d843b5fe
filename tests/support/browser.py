"""Debian's Chromium, headless, driven by Playwright, set up as WebRTC on loopback needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.inprocess import ADMIN_PASSWORD, ADMIN_USER

CHROMIUM = Path("/usr/bin/chromium")
# Headless on a closed network: no first-run, no background calls; loopback allowed for WebRTC.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
    "--disable-rtc-smoothness-algorithm",
]  # fmt: skip


def log_in(page: Any, base: str, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD, then: str = "/") -> None:
    """Log in through the login page, as a person would, and land on `then`."""
    page.goto(f"{base}{then}")  # an anonymous visitor is sent to /login?next=...
    log_in_here(page, user, password)
    page.wait_for_url(lambda url: "/login" not in url, timeout=10000)


def log_in_here(page: Any, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    """Fill and send the login form of the page shown."""
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def csp_violations(page: Any) -> list[str]:
    """Console messages of the page about its Content-Security-Policy so far."""
    return [m for m in page.camstream_console if "Content Security Policy" in m]


@contextmanager
def browser_page(
    width: int = 1280,
    height: int = 860,
    init_script: str | None = None,
    colour_scheme: str = "light",
    login: str | None = None,
    then: str = "/",
    extra_args: tuple[str, ...] = (),
) -> Iterator[Any]:
    """A page in a fresh headless Chromium, closed on exit; with `login` (a gateway's base URL),
    logged in there as the admin and on the page `then`.

    The context is granted camera and microphone: without them Chromium hides its host
    candidates behind mDNS names, which aiortc cannot resolve. The page's console messages are
    kept in `page.camstream_console`."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only the browser tests need it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            context = browser.new_context(
                permissions=["camera", "microphone"], viewport={"width": width, "height": height},
                color_scheme=colour_scheme,
            )  # fmt: skip
            page = context.new_page()
            page.camstream_console = []
            page.on("console", lambda message: page.camstream_console.append(message.text))
            if init_script:
                page.add_init_script(init_script)
            if login is not None:
                log_in(page, login, then=then)
            yield page
        finally:
            browser.close()
