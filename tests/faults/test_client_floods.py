"""Floods of clients against a real gateway process (and real ingest):

- 5,000 WebRTC sessions opened (the gateway makes its offer) and never completed, from 100
  loopback addresses: at most `webrtc_max_pending` at once (the rest 429 with a reason), every one
  freed after the negotiation timeout, the gateway's memory back to its level;
- 200 MJPEG clients and 500 event subscribers for 30 s: the gateway's memory bounded, and the API
  still answering everyone else quickly."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support import ServiceRun, logged_pid, rss_mb, wait_until, web, write_camera_file

SESSIONS = 5_000
ADDRESSES = 100
NEGOTIATION_S = 5.0
MAX_PENDING = 64  # the setting's default


@pytest.fixture
def demo_gateway(ingest: Callable[..., ServiceRun], gateway: Callable[..., str], tmp_path: Path) -> tuple[str, int]:
    """A gateway process (its base URL and pid) with one demo camera being ingested."""
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:front?size=320x240", "fps": 5}])
    ingest(cameras)
    # Every session is the admin's here: the per-user cap (32 by default) lifted, the pending cap is tested.
    base = gateway(cameras, env={"CAMSTREAM_WEBRTC_NEGOTIATION_TIMEOUT_S": str(NEGOTIATION_S),
                                 "CAMSTREAM_WEBRTC_MAX_SESSIONS_PER_USER": "10000",
                                 "CAMSTREAM_LOG_LEVEL": "INFO"})  # fmt: skip
    return base, logged_pid(tmp_path / "gateway-0.log", "gateway")


async def _open_sessions(base: str) -> tuple[Counter[int], int]:
    """Open SESSIONS sessions from ADDRESSES source addresses; the answers' statuses, and the most
    sessions seen pending at once."""
    statuses: Counter[int] = Counter()
    headers = web.headers(base)
    clients = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=30,
                          transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + i}"))
        for i in range(ADDRESSES)
    ]  # fmt: skip
    most = 0

    async def open_from(client: httpx.AsyncClient) -> None:
        for _ in range(SESSIONS // ADDRESSES):
            reply = await client.post("/api/webrtc/stream/1", json={"server_offer": True})
            statuses[reply.status_code] += 1

    async def watch(done: asyncio.Event) -> None:
        nonlocal most
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            while not done.is_set():
                sessions = (await http.get("/api/streams/status")).json()["sessions"]
                most = max(most, len(sessions))
                await asyncio.sleep(0.2)

    done = asyncio.Event()
    watcher = asyncio.create_task(watch(done))
    try:
        for start in range(0, ADDRESSES, 20):  # 20 clients at a time
            await asyncio.gather(*(open_from(c) for c in clients[start : start + 20]))
    finally:
        done.set()
        await watcher
        for client in clients:
            await client.aclose()
    return statuses, most


@pytest.mark.timeout(300)
def test_5000_sessions_never_completed_are_capped_and_freed(
    demo_gateway: tuple[str, int],
) -> None:
    base, pid = demo_gateway
    # Warm up the paths a session takes, then the level to come back to.
    warm_up = [web.post(f"{base}/api/webrtc/stream/1", json={"server_offer": True}).status_code for _ in range(4)]
    assert 201 in warm_up
    wait_until(lambda: not web.get(f"{base}/api/streams/status").json()["sessions"], NEGOTIATION_S + 15, 0.5)
    level = rss_mb(pid)

    # Three floods: the first two may leave the allocator's high-water mark behind (a flood whose
    # sessions time out while it runs makes twice as many, and peaks higher: CI saw 189 MB, then 203
    # and 214 after the floods; four floods here gave 203, 211, 212, 212); a leak grows at the third.
    after: list[float] = []
    for flood in (1, 2, 3):
        started = time.monotonic()
        statuses, most = asyncio.run(_open_sessions(base))
        flood_s = time.monotonic() - started
        assert sum(statuses.values()) == SESSIONS and set(statuses) <= {201, 429}, statuses
        assert most <= MAX_PENDING, f"{most} sessions pending at once"
        peak = rss_mb(pid)
        wait_until(lambda: not web.get(f"{base}/api/streams/status").json()["sessions"], NEGOTIATION_S + 30,
                   interval_s=0.5, what="every unfinished session freed")  # fmt: skip
        time.sleep(2.0)
        after.append(rss_mb(pid))
        print(f"flood {flood}: {SESSIONS} sessions in {flood_s:.0f} s: {statuses[201]} made, {statuses[429]} "
              f"refused (429); at most {most} pending; gateway {level:.0f} MB before, {peak:.0f} MB at the peak, "
              f"{after[-1]:.0f} MB after")  # fmt: skip
    assert after[0] <= level * 1.2, f"the gateway kept {after[0] - level:.0f} MB"
    assert after[2] <= after[1] * 1.05, f"the third flood left {after[2] - after[1]:.0f} MB more"
    assert web.get(f"{base}/healthz").status_code == 200


async def _crowd(base: str, seconds: float) -> dict[str, float]:
    headers = web.headers(base)
    parts: Counter[str] = Counter()
    stop = asyncio.Event()

    async def mjpeg(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/api/cameras/1/mjpeg") as reply:
            async for chunk in reply.aiter_bytes():
                parts["mjpeg"] += chunk.count(b"--frame")
                if stop.is_set():
                    return

    async def events() -> None:
        url = base.replace("http", "ws") + "/ws/events"
        async with websockets.connect(url, additional_headers=headers | {"Origin": base}) as socket:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(socket.recv(), 0.5)
                    parts["events"] += 1
                except TimeoutError:
                    continue

    limits = httpx.Limits(max_connections=300)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as streams, \
            httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:  # fmt: skip
        tasks = [asyncio.create_task(mjpeg(streams)) for _ in range(200)]
        tasks += [asyncio.create_task(events()) for _ in range(500)]
        await asyncio.sleep(5.0)
        latencies = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent = time.monotonic()
            assert (await http.get("/api/cameras")).status_code == 200
            latencies.append(time.monotonic() - sent)
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"mjpeg_parts": parts["mjpeg"], "api_p50_ms": 1000 * statistics.median(latencies),
            "api_max_ms": 1000 * max(latencies)}  # fmt: skip


@pytest.mark.timeout(300)
def test_200_mjpeg_clients_and_500_event_subscribers_for_30_s(
    demo_gateway: tuple[str, int],
) -> None:
    base, pid = demo_gateway
    wait_until(lambda: web.get(f"{base}/api/cameras/1/snapshot.jpg").status_code == 200, 30.0, 0.5)
    level = rss_mb(pid)
    figures = asyncio.run(_crowd(base, 30.0))
    peak = rss_mb(pid)
    print(f"200 MJPEG clients and 500 event subscribers for 30 s: {figures['mjpeg_parts']:.0f} MJPEG parts; "
          f"/api/cameras p50 {figures['api_p50_ms']:.0f} ms, max {figures['api_max_ms']:.0f} ms; gateway "
          f"{level:.0f} MB before, {peak:.0f} MB with them")  # fmt: skip
    assert figures["mjpeg_parts"] >= 200 * 30 * 5 * 0.5, "the MJPEG clients were starved"
    assert figures["api_max_ms"] < 2000, "the API stalled under the crowd"
    assert peak <= level + 200, f"the gateway grew by {peak - level:.0f} MB with the crowd"
    wait_until(lambda: web.get(f"{base}/healthz").status_code == 200, 10.0)
