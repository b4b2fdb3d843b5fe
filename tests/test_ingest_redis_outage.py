"""A Redis that stalls costs a camera frames, never time, and the camera recovers by itself."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared.embedded_redis import EmbeddedRedis
from tests.support import ServiceRun, camera_status, read_frames, wait_until, write_camera_file


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own: it is about to be frozen."""
    with EmbeddedRedis() as server:
        yield server


def test_camera_survives_a_frozen_redis(private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:?size=320x240", "fps": 10}])
    run = ServiceRun("ingest", private_redis.url, cameras, tmp_path / "ingest.log")
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    try:
        before = wait_until(lambda: read_frames(client, 1, 0.3), 10.0, what="frames")[-1]
        assert private_redis.pid is not None
        os.kill(private_redis.pid, signal.SIGSTOP)
        time.sleep(3.0)
        os.kill(private_redis.pid, signal.SIGCONT)
        after = wait_until(lambda: read_frames(client, 1, 0.3), 5.0, what="frames after Redis came back")[0]
        # The source loop kept its pace while Redis was frozen: about 30 frames were made (and dropped).
        assert after.seq - before.seq >= 20, (before.seq, after.seq)
        status = wait_until(lambda: (s := camera_status(client, 1)) and s.frames_failed > 0 and s, 5.0)
        assert status.pid is not None and run.process.poll() is None
        assert "Redis unavailable" in run.log_text()
    finally:
        client.close()
        assert run.stop() == 0
