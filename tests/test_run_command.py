"""The README's run command, minus its set-up: embedded Redis, ingest on the demo cameras, clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import redis

from shared.embedded_redis import free_port
from tests.support import ROOT, pid_alive, read_frames, wait_until


def _get_json(url: str) -> object:
    try:
        reply = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return reply.json() if reply.status_code == 200 else None


def test_run_starts_embedded_redis_and_demo_cameras_then_stops_everything() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSTREAM_")}
    env["CAMSTREAM_GATEWAY_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "scripts/run_local.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        lines = [process.stdout.readline() for _ in range(10)]
        banner = "".join(lines)
        assert "camstream is running" in banner, banner
        match = re.search(r"embedded redis-server \(pid (\d+)\) at (redis://127\.0\.0\.1:\d+/0)", banner)
        assert match, banner
        redis_pid, url = int(match[1]), match[2]
        assert "4 from the built-in demo set" in banner
        assert "python -m analyzer" in banner and f"dashboard: http://127.0.0.1:{port}/" in banner
        cameras = wait_until(lambda: _get_json(f"http://127.0.0.1:{port}/api/cameras"), 20.0, what="the gateway")
        assert [c["name"] for c in cameras][:1] == ["Front Door Camera"]
        client = redis.Redis.from_url(url)
        for camera_id in (1, 2, 3, 4):
            wait_until(lambda cid=camera_id: read_frames(client, cid, 0.2, start_id="0"), 15.0, what="demo frames")
            wait_until(lambda cid=camera_id: client.xlen(f"camstream:camera:{cid}:detections") > 0, 30.0,
                       what="the analyzer's detections")  # fmt: skip
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        process.stdout.close()
    assert process.returncode == 0
    wait_until(lambda: not pid_alive(redis_pid), 5.0, what="the embedded redis-server to stop")
