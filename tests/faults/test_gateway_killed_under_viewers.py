"""The gateway killed (SIGKILL) while the dashboard is open in Chromium, then started again on the
same address (as supervisor does): the user stays logged in (sessions are in the database), every
tile plays again and the event feed follows new events again, without a reload."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.detections import Box, Event, EventPhase, EventType
from shared.embedded_redis import free_port
from tests.support import ServiceRun, gateway_answers, publish_events, wait_until, web, write_camera_file
from tests.support.browser import browser_page

pytestmark = pytest.mark.rtsp
LOOPBACK = {"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}
StartGateway = Callable[[Path], ServiceRun]
DECODED = "Promise.all([...window.camstream.tiles.values()].map((t) => t.framesDecoded()))"


def decoded(page: Any) -> list[int]:
    if not page.evaluate("() => !!(window.camstream && window.camstream.tiles.size > 0)"):
        return []
    return [int(n) for n in page.evaluate(DECODED)]


@pytest.fixture
def restartable_gateway(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, StartGateway]]:
    """The base URL of one port, and a call that starts `python -m gateway` on it (again)."""
    port = free_port()
    runs: list[ServiceRun] = []

    def start(cameras: Path) -> ServiceRun:
        run = ServiceRun("gateway", redis_url, cameras, tmp_path / f"gateway-{len(runs)}.log", "--host", "127.0.0.1",
                         "--port", str(port), env=LOOPBACK)  # fmt: skip
        runs.append(run)
        wait_until(lambda: gateway_answers(f"http://127.0.0.1:{port}"), 30.0, what="the gateway")
        return run

    yield f"http://127.0.0.1:{port}", start
    for run in runs:
        run.stop()
    web.forget(f"http://127.0.0.1:{port}")


@pytest.mark.timeout(240)
def test_the_dashboard_comes_back_by_itself_after_the_gateway_is_killed(
    chromium_available: None, ingest: Callable[..., ServiceRun], restartable_gateway: tuple[str, StartGateway],
    redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    cameras = write_camera_file(tmp_path, [
        {"id": i, "name": f"Demo {i}", "source": f"demo:cam{i}?size=320x240", "fps": 10} for i in (1, 2)
    ])  # fmt: skip
    ingest(cameras)
    base, start_gateway = restartable_gateway
    first = start_gateway(cameras)
    with browser_page(login=base) as page:
        wait_until(lambda: len(decoded(page)) == 2 and min(decoded(page)) > 10, 30.0, interval_s=0.5,
                   what="two tiles decoding")  # fmt: skip
        first.process.kill()
        first.process.wait(5)
        killed_at = time.monotonic()
        start_gateway(cameras)
        started_s = time.monotonic() - killed_at
        before = decoded(page)

        def playing_again() -> bool:
            now = decoded(page)
            return len(now) == 2 and all(b > a + 10 for a, b in zip(before, now, strict=True))

        wait_until(playing_again, 30.0, interval_s=0.5, what="every tile playing again, no reload")
        tiles_s = time.monotonic() - killed_at
        # The feed's socket reconnects (every 3 s) and shows an event published now.
        now = time.time()
        event = Event("2-feedfeedfeedfeed", 2, EventType.PERSON, EventPhase.START, now, None, 0.91, Box(1, 2, 30, 60),
                      1, False, now)  # fmt: skip
        deadline = time.monotonic() + 30.0
        while page.locator(".feed li", has_text="Demo 2").count() == 0:
            assert time.monotonic() < deadline, "the event feed did not come back"
            publish_events(redis_url, [(event, None)])
            page.wait_for_timeout(1000)
        feed_s = time.monotonic() - killed_at
        assert page.url.rstrip("/") == base, f"the page left for {page.url} (a login?)"
    print(
        f"gateway started again in {started_s:.1f} s; tiles playing {tiles_s:.1f} s and the feed following "
        f"{feed_s:.1f} s after the kill"
    )
