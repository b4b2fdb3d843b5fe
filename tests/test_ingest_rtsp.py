"""Ingest against a real RTSP server, a real Redis and real processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import redis
import simplejpeg

from shared import keys
from shared.embedded_redis import free_port
from shared.packets import AudioMessage, PacketMessage
from shared.status import CameraState
from tests.support import (
    RtspServer,
    ServiceRun,
    camera_pids,
    camera_status,
    pid_alive,
    read_frames,
    wait_until,
    want_packets,
    write_camera_file,
)

pytestmark = pytest.mark.rtsp

StartRtsp = Callable[..., RtspServer]
StartIngest = Callable[..., ServiceRun]


# How long a camera may take to its first frame here: the manager's and the camera's processes
# start, connect and wait for a keyframe (about 3 s on a quiet 2-core machine, bench.ingest_start;
# more on a loaded CI one). Not what is tested: the waits return at the first frame.
START_S = 15.0


def rtsp_camera(camera_id: int, url: str, fps: float = 15, **extra: object) -> dict[str, object]:
    return {"id": camera_id, "name": f"Camera {camera_id}", "source": url, "fps": fps, **extra}


def test_frames_arrive_as_jpeg_of_source_size_at_target_fps(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    server = rtsp_server(size="640x360", fps=25)
    cameras = write_camera_file(tmp_path, [rtsp_camera(1, server.url(), fps=10)])
    ingest(cameras)

    first = wait_until(lambda: read_frames(rdb, 1, 0.2, start_id="0"), START_S, what="first frame in Redis")
    assert first[0].camera_id == 1
    frames = read_frames(rdb, 1, 4.0)

    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "sequence numbers must increase"
    for frame in frames[:5]:
        assert (frame.width, frame.height) == (640, 360)
        height, width, _, _ = simplejpeg.decode_jpeg_header(frame.jpeg)
        assert (width, height) == (640, 360)
    span_s = frames[-1].captured_at_s - frames[0].captured_at_s
    fps = (len(frames) - 1) / span_s
    assert 8.0 <= fps <= 12.0, f"{fps:.1f} fps for a 10 fps target from a 25 fps source"
    status = wait_until(lambda: camera_status(rdb, 1), 2.0)
    assert status.state is CameraState.STREAMING
    assert status.frames_dropped > 0, "a 25 fps source at 10 fps drops frames, and counts them"


def test_rtsp_server_killed_then_restarted(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    server = rtsp_server(fps=15)
    run = ingest(write_camera_file(tmp_path, [rtsp_camera(1, server.url())]))
    streaming = wait_until(
        lambda: (s := camera_status(rdb, 1)) and s.state is CameraState.STREAMING and s, 10.0, what="streaming"
    )

    server.kill()
    status = wait_until(
        lambda: (s := camera_status(rdb, 1)) and s.state is CameraState.RECONNECTING and s, 5.0,
        what="state reconnecting after the server died",
    )  # fmt: skip
    assert status.last_error

    server.start()
    wait_until(lambda: read_frames(rdb, 1, 0.5), 15.0, what="frames after the server came back")
    frames = read_frames(rdb, 1, 1.0)  # a second of the source at 15 fps, after it came back
    assert len(frames) >= 8 and {(f.width, f.height) for f in frames} == {(640, 360)}
    after = wait_until(
        lambda: (s := camera_status(rdb, 1)) and s.state is CameraState.STREAMING and s, 5.0, what="streaming"
    )
    assert after.pid == streaming.pid, "the camera process was not restarted"
    assert after.reconnects >= 1
    assert run.process.poll() is None


def test_closed_port_backs_off_while_other_camera_keeps_full_rate(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    server = rtsp_server(fps=15)
    closed = f"rtsp://127.0.0.1:{free_port()}/cam"
    ingest(write_camera_file(tmp_path, [rtsp_camera(1, closed), rtsp_camera(2, server.url(), fps=15)]))

    wait_until(lambda: read_frames(rdb, 2, 0.2, start_id="0"), START_S, what="frames of the good camera")
    frames = read_frames(rdb, 2, 6.0)
    fps = (len(frames) - 1) / (frames[-1].captured_at_s - frames[0].captured_at_s)
    assert fps >= 12.0, f"the good camera fell to {fps:.1f} fps"

    broken = camera_status(rdb, 1)
    assert broken.state in (CameraState.RECONNECTING, CameraState.CONNECTING)
    assert "Connection refused" in (broken.last_error or "")
    # About 7 s in, backoff of 1, 2, 4 s allows three or four attempts, not hundreds.
    assert 2 <= broken.reconnects <= 5, broken
    assert broken.frames_sent == 0


def test_passwords_never_leak(rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path) -> None:
    password = "Sup3r-S3cret-Pw"
    open_server = rtsp_server()
    locked = rtsp_server(refuse_login=True)
    closed_port = free_port()
    cameras = write_camera_file(tmp_path, [
        rtsp_camera(1, open_server.url("admin:${CAM_PASSWORD}")),
        rtsp_camera(2, locked.url("admin:${CAM_PASSWORD}")),
        rtsp_camera(3, f"rtsp://admin:{password}@127.0.0.1:{closed_port}/cam"),
    ])  # fmt: skip
    env = {"CAM_PASSWORD": password}
    run = ingest(cameras, env=env)

    wait_until(lambda: read_frames(rdb, 1, 0.2, start_id="0"), 15.0, what="frames through a URL with credentials")
    locked_status = wait_until(
        lambda: (s := camera_status(rdb, 2)) and s.state is CameraState.FAILED and s, 10.0, what="login refused"
    )
    assert "401" in (locked_status.last_error or "")
    wait_until(lambda: (s := camera_status(rdb, 3)) and s.reconnects >= 2, 10.0, what="closed port retried")

    validate = ingest(cameras, "--validate-config", env=env)
    validate.process.wait(20)
    run.stop()
    records = [rdb.get(key) or b"" for key in rdb.keys("camstream:*status*")]
    texts = {"ingest log": run.log_text(), "validate-config": validate.log_text(), "status": b"".join(records).decode()}
    for name, text in texts.items():
        assert password not in text, f"password in {name}"
    assert "***@127.0.0.1" in texts["status"], "the masked source is still shown"
    assert "Connection refused" in texts["ingest log"]


def test_sigterm_stops_manager_and_every_camera_without_orphans(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    server = rtsp_server()
    cameras = write_camera_file(tmp_path, [
        rtsp_camera(1, server.url()),
        rtsp_camera(2, f"rtsp://127.0.0.1:{free_port()}/cam"),
        {"id": 3, "name": "demo", "source": "demo:?size=320x240"},
    ])  # fmt: skip
    run = ingest(cameras)
    pids = wait_until(lambda: camera_pids(rdb, [1, 2, 3]), 10.0, what="three camera processes")
    wait_until(lambda: (s := camera_status(rdb, 1)) and s.state is CameraState.STREAMING, 10.0)

    os.kill(run.pid, signal.SIGTERM)
    run.process.wait(5)
    wait_until(lambda: not any(pid_alive(p) for p in pids), 5.0, what="camera processes to exit")
    assert run.process.returncode == 0
    assert camera_status(rdb, 1).state is CameraState.STOPPED


def test_h265_camera_streams(rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path) -> None:
    server = rtsp_server(size="640x360", fps=15, codec="h265")
    ingest(write_camera_file(tmp_path, [rtsp_camera(1, server.url(), fps=15)]))
    frames = wait_until(lambda: read_frames(rdb, 1, 1.0, start_id="0"), 10.0, what="H.265 frames in Redis")
    height, width, _, _ = simplejpeg.decode_jpeg_header(frames[-1].jpeg)
    assert (width, height) == (640, 360)


def test_with_a_detect_stream_only_that_stream_is_decoded(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    main = rtsp_server(size="1280x720", fps=15)
    detect = rtsp_server(size="320x180", fps=15, login=("digest", "cam", "Sub-Pw-1"))
    cameras = write_camera_file(tmp_path, [
        rtsp_camera(1, main.url(), detect_source=detect.url("cam:${SUB_PASSWORD}")),
    ])  # fmt: skip
    run = ingest(cameras, env={"SUB_PASSWORD": "Sub-Pw-1"})
    frames = wait_until(lambda: read_frames(rdb, 1, 0.5, start_id="0"), 10.0, what="frames of the detect stream")
    assert {(f.width, f.height) for f in frames} == {(320, 180)}  # the main stream's 1280x720 is never decoded
    status = wait_until(lambda: (s := camera_status(rdb, 1)) and s.width and s, 5.0, what="the status with a size")
    assert (status.width, status.height) == (320, 180) and status.state is CameraState.STREAMING
    assert "decoding its detect stream rtsp://***@127.0.0.1" in run.log_text() and "Sub-Pw-1" not in run.log_text()


def _units(client: redis.Redis, camera_id: int) -> list[PacketMessage]:
    entries = client.xrange(keys.packet_stream(camera_id))
    return [PacketMessage.from_entry(fields) for _entry_id, fields in entries]


def _decoded_sizes(units: list[PacketMessage]) -> list[tuple[int, int]]:
    decoder = av.CodecContext.create(units[0].codec, "r")
    return [(f.width, f.height) for u in units for f in decoder.decode(av.Packet(u.data))]  # type: ignore[attr-defined]


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_the_cameras_own_access_units_are_on_its_packet_stream(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path, codec: str
) -> None:
    main = rtsp_server(size="640x360", fps=15, codec=codec)
    cameras = write_camera_file(tmp_path, [rtsp_camera(1, main.url())])
    want_packets(rdb, 1)
    ingest(cameras, env={"CAMSTREAM_PACKET_STREAM_S": "1"})
    wait_until(lambda: (u := _units(rdb, 1)) and u[-1].seq >= 60, 15.0, what="four seconds of access units")
    units = _units(rdb, 1)
    assert units[0].keyframe and {u.codec for u in units} == {"hevc" if codec == "h265" else "h264"}
    assert [u.seq for u in units] == list(range(units[0].seq, units[0].seq + len(units)))  # none missing
    assert _decoded_sizes(units) == [(640, 360)] * len(units)  # every one decodes, from the first keyframe on
    # Trimmed by time, but never past the last keyframe: the stream always starts at one.
    assert len(units) <= 15 * (1 + 2) + 10 and sum(u.keyframe for u in units) <= 3


def test_a_detect_streams_camera_relays_its_main_stream_undecoded(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    main = rtsp_server(size="1280x720", fps=15)
    detect = rtsp_server(size="320x180", fps=15)
    cameras = write_camera_file(tmp_path, [rtsp_camera(1, main.url(), detect_source=detect.url())])
    ingest(cameras)
    wait_until(lambda: camera_status(rdb, 1) and camera_status(rdb, 1).units_relayed, 15.0, what="the main stream")
    time.sleep(1.5)
    assert rdb.xlen(keys.packet_stream(1)) == 0  # nobody watches: nothing relayed to Redis
    want_packets(rdb, 1)
    wait_until(lambda: rdb.xlen(keys.packet_stream(1)) >= 20, 15.0, what="the main stream's access units")
    assert _units(rdb, 1)[0].keyframe  # asked for, the stream starts at a keyframe
    assert set(_decoded_sizes(_units(rdb, 1))) == {(1280, 720)}
    assert {(f.width, f.height) for f in read_frames(rdb, 1, 0.5, start_id="0")} == {(320, 180)}


@pytest.mark.parametrize("audio", ["pcmu", "aac"])
def test_a_cameras_audio_goes_onto_its_audio_stream_as_sent(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path, audio: str
) -> None:
    server, quiet = rtsp_server(audio=audio), rtsp_server(audio=audio)  # the test server answers one DESCRIBE at a time
    cameras = write_camera_file(tmp_path, [rtsp_camera(1, server.url()), rtsp_camera(2, quiet.url(), audio=False)])
    ingest(cameras)
    wait_until(lambda: rdb.xlen(keys.audio_stream(1)) >= 8, 15.0, what="audio units")
    wait_until(lambda: camera_status(rdb, 2) and camera_status(rdb, 2).state is CameraState.STREAMING, 10.0)
    units = [AudioMessage.from_entry(f) for _i, f in rdb.xrange(keys.audio_stream(1))]
    codec = {"pcmu": "pcm_mulaw", "aac": "aac"}[audio]
    assert {u.codec for u in units} == {codec} and units[0].sample_rate == (8000 if audio == "pcmu" else 16000)
    decoder = av.CodecContext.create(codec, "r")
    decoder.sample_rate, decoder.layout = units[0].sample_rate, "mono"  # type: ignore[attr-defined]
    if units[0].config:
        decoder.extradata = units[0].config
    samples = np.concatenate([
        f.to_ndarray().astype(np.float64).ravel() for u in units for f in decoder.decode(av.Packet(u.data))  # type: ignore[attr-defined]
    ])  # fmt: skip
    scale = 32768.0 if samples.dtype.kind != "f" and np.abs(samples).max() > 1.5 else 1.0
    assert len(samples) > 1000 and np.std(samples / scale) > 0.05, "the tone arrives, not silence"
    assert rdb.xlen(keys.audio_stream(2)) == 0  # audio: false
