"""The README's run command, minus its set-up: supervisor runs Redis, ingest, analyzer and gateway."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

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


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            for child in task.read_text().split():
                found.add(int(child))
                todo.append(int(child))
    return found


def test_supervisor_runs_everything_and_stop_all_leaves_no_orphan(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSTREAM_")}
    env.update(CAMSTREAM_GATEWAY_PORT=str(port), CAMSTREAM_RUN_DIR=str(tmp_path / "run"))
    process = subprocess.Popen([sys.executable, "scripts/run_local.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    assert process.stdout is not None
    control = [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(tmp_path / "run" / "supervisord.conf")]

    def status() -> str:
        return subprocess.run([*control, "status"], capture_output=True, text=True, check=False).stdout

    try:
        banner = "".join(process.stdout.readline() for _ in range(7))
        url = re.search(r"embedded redis-server at (redis://127\.0\.0\.1:\d+/0)", banner)
        assert url, banner
        assert f"dashboard: http://127.0.0.1:{port}/" in banner and "supervisorctl" in banner
        programs = wait_until(lambda: (s := status()).count("RUNNING") == 4 and s, 30.0, interval_s=0.5,
                              what="redis, ingest, analyzer and gateway RUNNING")  # fmt: skip
        assert all(name in programs for name in ("redis", "ingest", "analyzer:analyzer-0", "gateway"))
        cameras = wait_until(lambda: _get_json(f"http://127.0.0.1:{port}/api/cameras"), 30.0, what="the gateway")
        assert [c["name"] for c in cameras][:1] == ["Front Door Camera"]  # type: ignore[index]
        client = redis.Redis.from_url(url[1])
        for camera_id in (1, 2, 3, 4):
            wait_until(lambda cid=camera_id: read_frames(client, cid, 0.2, start_id="0"), 15.0, what="demo frames")
            wait_until(lambda cid=camera_id: client.xlen(f"camstream:camera:{cid}:detections") > 0, 30.0,
                       what="the analyzer's detections")  # fmt: skip
        client.close()

        everything = _descendants(process.pid)
        assert len(everything) >= 4 + 4  # the programs, and ingest's four camera processes
        stopped = subprocess.run([*control, "stop", "all"], capture_output=True, text=True, timeout=60, check=False)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        wait_until(lambda: not any(pid_alive(p) for p in everything), 10.0, what="every process to be gone")
        assert "RUNNING" not in status()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stdout.close()
