"""The camera process's publisher: it never makes the source wait; when Redis is slow, the oldest
waiting frame goes, counted."""

from __future__ import annotations

import time

import redis

from ingest.frame_publisher import BUFFER_FRAMES, Publisher
from ingest.stats import CameraStats
from shared import keys
from shared.messages import FrameMessage
from shared.status import CameraStatus
from tests.support import read_frames, wait_until


def frame(seq: int) -> FrameMessage:
    return FrameMessage(4, seq, time.time(), 32, 16, b"\xff\xd8jpeg-%d" % seq)


def test_a_full_buffer_drops_the_oldest_frame_and_counts_it(rdb: redis.Redis) -> None:
    stats = CameraStats(camera_id=4, source="demo:")
    publisher = Publisher(rdb, stats, maxlen=50, status_interval_s=0.2, status_ttl_s=5)
    started = time.perf_counter()
    for seq in range(5):  # the thread is not running yet: like a Redis that does not answer
        publisher.offer(frame(seq), time.time())
    assert time.perf_counter() - started < 0.05  # offering never waits
    assert stats.frames_failed == 5 - BUFFER_FRAMES
    publisher.start()
    sent = wait_until(lambda: read_frames(rdb, 4, 0.2, start_id="0"), 5.0, what="the waiting frames sent")
    assert [f.seq for f in sent] == [3, 4]  # the newest two
    publisher.stop()
    status = CameraStatus.decode(rdb.get(keys.camera_status(4)) or b"")
    assert (status.frames_sent, status.frames_failed) == (2, 3)
