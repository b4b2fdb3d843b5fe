"""The README's run command, minus its set-up: supervisor runs Redis, ingest, analyzer, recorder, bridge and gateway."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from shared.embedded_redis import free_port
from tests.support import pid_alive, read_frames, wait_until
from tests.support.run_command import descendants, get_json, start


def test_supervisor_runs_everything_and_stop_all_leaves_no_orphan(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSTREAM_")}
    env.update(CAMSTREAM_GATEWAY_PORT=str(port), CAMSTREAM_RUN_DIR=str(tmp_path / "run"),
               CAMSTREAM_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    process, banner = start(env)
    assert process.stdout is not None
    control = [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(tmp_path / "run" / "supervisord.conf")]

    def status() -> str:
        return subprocess.run([*control, "status"], capture_output=True, text=True, check=False).stdout

    try:
        found = re.search(r"embedded redis-server at redis://127\.0\.0\.1:(\d+)/0 \(password in (\S+)\)", banner)
        admin = re.search(r"Log in as admin with the password (\S+) ", banner)
        assert found and admin, banner
        assert f"dashboard: http://127.0.0.1:{port}/" in banner and "supervisorctl" in banner
        config = Path(found[2])
        assert config.stat().st_mode & 0o777 == 0o600 and (tmp_path / "run").stat().st_mode & 0o777 == 0o700
        redis_password = re.search(r"^requirepass (\S+)$", config.read_text(), re.MULTILINE)[1]  # type: ignore[index]
        url = (None, f"redis://:{redis_password}@127.0.0.1:{found[1]}/0")
        programs = wait_until(lambda: (s := status()).count("RUNNING") == 6 and s, 30.0, interval_s=0.5,
                              what="redis, ingest, analyzer, recorder, bridge and gateway RUNNING")  # fmt: skip
        assert all(name in programs for name in ("redis", "ingest", "analyzer:analyzer-0", "recorder", "bridge",
                                                 "gateway"))  # fmt: skip
        stranger = redis.Redis(port=int(found[1]))
        with pytest.raises(redis.AuthenticationError):
            stranger.get("x")  # the embedded Redis wants its password
        stranger.close()
        # Not a promise of the product: a loaded 2-core machine took over 20 s to import the gateway.
        wait_until(lambda: get_json(f"http://127.0.0.1:{port}/healthz"), 60.0, what="the gateway")
        assert httpx.get(f"http://127.0.0.1:{port}/api/cameras").status_code == 401
        web = httpx.Client(base_url=f"http://127.0.0.1:{port}")
        web.post("/api/auth/login", json={"username": "admin", "password": admin[1]}).raise_for_status()
        cameras = web.get("/api/cameras").json()
        web.close()
        assert [c["name"] for c in cameras][:1] == ["Front Door Camera"]
        processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        assert redis_password not in processes and admin[1] not in processes
        socket_mode = (tmp_path / "run" / "supervisor.sock").stat().st_mode & 0o777
        assert socket_mode == 0o700, oct(socket_mode)
        client = redis.Redis.from_url(url[1])
        for camera_id in (1, 2, 3, 4):
            wait_until(lambda cid=camera_id: read_frames(client, cid, 0.2, start_id="0"), 15.0, what="demo frames")
            wait_until(lambda cid=camera_id: client.xlen(f"camstream:camera:{cid}:detections") > 0, 30.0,
                       what="the analyzer's detections")  # fmt: skip
        client.close()

        everything = descendants(process.pid)
        assert len(everything) >= 5 + 4  # the programs, and ingest's four camera processes
        stopped = subprocess.run([*control, "stop", "all"], capture_output=True, text=True, timeout=60, check=False)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        wait_until(lambda: not any(pid_alive(p) for p in everything), 10.0, what="every process to be gone")
        assert "RUNNING" not in status()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stdout.close()
    # The generated password was shown once: the next start says how to log in, without it.
    again, banner = start(env)
    again.send_signal(signal.SIGTERM)
    again.wait(30)
    assert again.stdout is not None
    again.stdout.close()
    assert admin[1] not in banner and "Log in as admin   (password:" in banner, banner
