"""Killed ingest processes cost no more than the outage: a camera's process killed mid-GOP leaves
its part file with every frame but the last, and the recorder keeps them all; the ingest manager
killed costs no frame at all (its camera processes run on, and the next manager adopts them)."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from shared import keys, recordings
from shared.messages import FrameMessage
from shared.packets import PacketMessage
from tests.support import RtspServer, ServiceRun, camera_pids, pid_alive, wait_until, want_packets, write_camera_file

pytestmark = pytest.mark.rtsp

FPS = 15
FRAME_S = 1 / FPS


def _packets(rdb: redis.Redis, camera_id: int) -> list[PacketMessage]:
    return [PacketMessage.from_entry(f) for _i, f in rdb.xrange(keys.packet_stream(camera_id))]  # type: ignore[union-attr]


def _deep_in_a_gop(rdb: redis.Redis, frames: int) -> bool:
    """Whether the camera's latest access unit is at least `frames` past its latest keyframe."""
    latest = [PacketMessage.from_entry(f) for _i, f in rdb.xrevrange(keys.packet_stream(1), count=60)]  # type: ignore[union-attr]
    since = next((i for i, p in enumerate(latest) if p.keyframe), None)
    return since is not None and since >= frames


def test_a_killed_camera_process_loses_no_footage_beyond_its_outage(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    rdb: redis.Redis, tmp_path: Path, _data_dir: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=FPS, gop=3 * FPS)  # 3 s GOPs: a GOP's loss would show
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "rec", "source": server.url(), "fps": FPS,
                                            "record": {"mode": "continuous"}}])  # fmt: skip
    root = _data_dir / "recordings"
    want_packets(rdb, 1)
    ingest(cameras, env={"CAMSTREAM_RECORDINGS_SEGMENT_S": "60", "CAMSTREAM_PACKET_STREAM_S": "60"})
    recorder(cameras)
    pids = wait_until(lambda: camera_pids(rdb, [1]), 30.0, what="the camera's pid")
    wait_until(lambda: len(_packets(rdb, 1)) > 4 * FPS, 30.0, what="four seconds of the camera")
    wait_until(lambda: _deep_in_a_gop(rdb, 2 * FPS), 10.0, interval_s=0.01, what="two seconds into a GOP")
    os.kill(pids[0], signal.SIGKILL)
    killed_at = time.time()
    part = next(s for s in recordings.camera_segments(root, 1) if s.is_part)
    salvaged = wait_until(lambda: next((s for s in recordings.camera_segments(root, 1)
                                        if s.start_ms == part.start_ms and not s.is_part), None),
                          30.0, what="the cut segment repaired")  # fmt: skip
    after = wait_until(lambda: next((s for s in recordings.camera_segments(root, 1) if s.start_ms > part.start_ms),
                                    None), 30.0, what="the new process's segment")  # fmt: skip
    packets = _packets(rdb, 1)
    before = [p for p in packets if p.captured_at_s < killed_at]
    resumed = [p for p in packets if p.captured_at_s > killed_at and p.keyframe]
    outage_s = resumed[0].captured_at_s - before[-1].captured_at_s  # the camera's last frame to its next keyframe
    assert salvaged.end_ms is not None
    gap_s = (after.start_ms - salvaged.end_ms) / 1000
    print(f"recording gap {gap_s:.3f} s, outage {outage_s:.3f} s")
    assert gap_s <= outage_s + FRAME_S + 0.1, f"recording gap {gap_s:.2f} s for an outage of {outage_s:.2f} s"


def _frame_times(rdb: redis.Redis, camera_id: int) -> list[float]:
    entries = rdb.xrange(keys.frame_stream(camera_id))
    return [FrameMessage.from_entry(f).captured_at_s for _i, f in entries]  # type: ignore[union-attr]


def test_the_ingest_manager_killed_under_four_cameras_costs_no_frame(
    ingest: Callable[..., ServiceRun], rdb: redis.Redis, tmp_path: Path
) -> None:
    cameras = write_camera_file(tmp_path, [{"id": i, "name": f"Camera {i}", "source": "demo:?size=320x180", "fps": 5,
                                            "record": {"mode": "off"}} for i in (1, 2, 3, 4)])  # fmt: skip
    env = {"CAMSTREAM_FRAME_STREAM_S": "60", "CAMSTREAM_INGEST_ORPHAN_S": "30"}
    first = ingest(cameras, env=env)
    before = wait_until(lambda: camera_pids(rdb, [1, 2, 3, 4]), 60.0, what="four camera processes")
    wait_until(lambda: all(len(_frame_times(rdb, c)) >= 10 for c in (1, 2, 3, 4)), 30.0, what="frames from all four")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(5)
    killed_at = time.time()
    ingest(cameras, env=env)  # the supervisor's restart
    wait_until(lambda: "adopted its running process" in (tmp_path / "ingest-1.log").read_text(errors="replace")
               and rdb.zcard(keys.ingest_hosts()) > 0, 60.0, what="the new manager adopting")  # fmt: skip
    time.sleep(2.0)
    assert camera_pids(rdb, [1, 2, 3, 4]) == before and all(pid_alive(p) for p in before), "the same processes"
    for camera_id in (1, 2, 3, 4):
        times = [t for t in _frame_times(rdb, camera_id) if t > killed_at - 5]
        gap = max(b - a for a, b in itertools.pairwise(times))
        print(f"camera {camera_id}: largest frame gap {gap:.2f} s around the manager's kill")
        assert gap <= 1.0, f"camera {camera_id}: frames stopped for {gap:.2f} s when the manager was killed"
