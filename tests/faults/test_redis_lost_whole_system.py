"""Redis frozen for 30 s (SIGSTOP: connections open, nothing answers), then killed and started
again empty, under the whole system: ingest, an analyzer worker, recorder, bridge and gateway
ride it out without exiting (same pids: a supervisor restarting them would not count), an MJPEG
client and an events client (reconnecting as the dashboard does) get pictures and events again
within 10 s of Redis returning, and the history is intact."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from shared.embedded_redis import EmbeddedRedis
from tests.support import DATA, ServiceRun, redis_outage, wait_until, web, write_camera_file
from tests.support.history import events_by_id

Start = Callable[..., ServiceRun]
CLIP = DATA / "TUD-Campus.mp4"
BACK_WITHIN_S = 10.0


class Watchers:
    """An MJPEG reader and an events reader in a thread, each reconnecting after a second when cut;
    the times at which each got something."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.parts: list[float] = []
        self.events: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._mjpeg, daemon=True),
                         threading.Thread(target=lambda: asyncio.run(self._events()), daemon=True)]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def _mjpeg(self) -> None:
        while not self._stop.is_set():
            try:
                with httpx.stream("GET", f"{self.base}/api/cameras/1/mjpeg", headers=web.headers(self.base),
                                  timeout=5) as reply:  # fmt: skip
                    for chunk in reply.iter_bytes():
                        if b"--frame" in chunk:
                            self.parts.append(time.time())
                        if self._stop.is_set():
                            return
            except httpx.HTTPError:
                pass
            self._stop.wait(1.0)

    async def _events(self) -> None:
        url = self.base.replace("http", "ws") + "/ws/events"
        headers = web.headers(self.base) | {"Origin": self.base}
        while not self._stop.is_set():
            try:
                async with websockets.connect(url, additional_headers=headers, open_timeout=5) as socket:
                    while not self._stop.is_set():
                        try:
                            await asyncio.wait_for(socket.recv(), 0.5)
                            self.events.append(time.time())
                        except TimeoutError:
                            continue
            except (OSError, websockets.WebSocketException, TimeoutError):
                await asyncio.sleep(1.0)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


@pytest.mark.timeout(300)
def test_every_process_rides_out_redis_frozen_for_30_s_then_lost(
    private_redis: EmbeddedRedis, ingest: Start, analyzer: Start, recorder: Start, bridge: Start,
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(CLIP), "fps": 10}])
    env = {"CAMSTREAM_REDIS_URL": private_redis.url}
    base = gateway(cameras, redis=private_redis.url)
    processes = [ingest(cameras, env=env), analyzer(cameras, env=env), recorder(cameras, env=env),
                 bridge(cameras, env=env)]  # fmt: skip
    wait_until(lambda: len(events_by_id(base)) >= 2, 60.0, interval_s=0.5, what="events stored")
    watchers = Watchers(base)
    try:
        wait_until(lambda: watchers.parts and watchers.events, 30.0, what="pictures and events to the clients")
        pids = [p.pid for p in processes]
        comebacks: dict[str, tuple[float, float]] = {}
        for outage, seconds in (("frozen", 30.0), ("killed", 5.0)):
            before = events_by_id(base)
            redis_outage(private_redis, outage, seconds)
            back_at = time.time()
            wait_until(lambda at=back_at: any(t > at for t in watchers.parts), BACK_WITHIN_S, interval_s=0.2,
                       what=f"MJPEG pictures again after Redis was {outage}")  # fmt: skip
            picture_s = min(t for t in watchers.parts if t > back_at) - back_at
            wait_until(lambda at=back_at: any(t > at for t in watchers.events), BACK_WITHIN_S + 20, interval_s=0.2,
                       what=f"events again after Redis was {outage}")  # fmt: skip
            event_s = min(t for t in watchers.events if t > back_at) - back_at
            comebacks[outage] = (picture_s, event_s)
            assert [p.process.poll() for p in processes] == [None] * len(processes), "a process exited"
            assert [p.pid for p in processes] == pids
            after = events_by_id(base)
            assert before.keys() <= after.keys(), "events left the history"
        print("after Redis " + "; ".join(f"{o}: pictures again in {p:.1f} s, events in {e:.1f} s"
                                         for o, (p, e) in comebacks.items()))  # fmt: skip
    finally:
        watchers.close()
