"""Tamper events from real processes: file cameras of real footage made by the tamper set's generator
(analyzer.tamper_set), played by ingest and analysed by a worker. A lens covered mid-stream is a
`tamper` event with reason `covered`, a snapshot, and an end once it is uncovered; dusk, headlights,
rain and a person passing close to the lens on another camera are none; a camera turned away is
`moved`, and the owner's "new normal view" (the API) ends it and takes the new view as normal."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from analyzer.tamper_set import CLIPS, DATA, write_video
from analyzer.tamper_set import Camera as TamperCamera
from tests.support import ServiceRun, wait_until, web, worker_statuses, write_camera_file

HOLD_S = 5.0
CLIP_FPS = 5
ANALYSIS = {"fps": 5, "person": False, "face": False}


def _clip(folder: Path, name: str, length_s: float, tampers: list[dict[str, Any]],
          benign: list[dict[str, Any]]) -> Path:  # fmt: skip
    labels = {"clip": CLIPS["pets"], "tamper_part_s": 0.0, "total_s": length_s, "tampers": tampers, "benign": benign}
    return write_video(TamperCamera(name, labels), 0.0, length_s, folder / f"{name}.mp4", CLIP_FPS)


def _episode(kind: str, start_s: float, end_s: float, **params: float) -> dict[str, Any]:
    return {"kind": kind, "start_s": start_s, "end_s": end_s, "params": params}


def _tampers(base: str, camera_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = web.get(f"{base}/api/events?type=tamper&camera={camera_id}").json()["events"]
    return events


def _camera(camera_id: int, name: str, clip: Path, **health: Any) -> dict[str, Any]:
    return {"id": camera_id, "name": name, "source": str(clip), "analysis": ANALYSIS, "record": {"mode": "off"},
            "health": {"tamper_s": HOLD_S, **health}}  # fmt: skip


def test_a_covered_lens_and_a_turned_camera_are_tamper_events_and_dusk_headlights_and_rain_are_none(
    ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun], gateway: Callable[..., str],
    rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    if not (DATA / CLIPS["pets"]).is_file():
        pytest.skip(f"test footage missing: {DATA / CLIPS['pets']}")
    covered = _clip(tmp_path, "covered", 32, [_episode("covered", 8, 20, share=0.9, tone=0.6, side=0.2)], [])
    benign = _clip(tmp_path, "benign", 32, [], [
        _episode("dusk", 2, 28, down=8, dark=10, gain=0.3, red=1.2, blue=0.85),
        _episode("headlights", 8, 11, y=0.6, size=0.3, direction=1),
        _episode("passer", 14, 17, y=0.5, size=0.45, direction=-1),
        _episode("rain", 18, 26, strength=1.0),
    ])  # fmt: skip
    moved = _clip(tmp_path, "moved", 45, [_episode("moved", 8, 45, angle=20, shift=0.22)], [])
    cameras = write_camera_file(tmp_path, [
        _camera(1, "Hall", covered), _camera(2, "Yard", benign), _camera(3, "Gate", moved),
        _camera(4, "Not watched", moved, tamper=False),
    ])  # fmt: skip
    base = gateway(cameras)
    analyzer(cameras)  # first: each view is learnt from its clip's first seconds, before any tamper
    wait_until(lambda: worker_statuses(rdb), 60.0, what="the worker")
    ingest(cameras)

    [turned] = wait_until(lambda: _tampers(base, 3), 60.0, interval_s=0.5, what="a tamper event of the turned camera")
    assert turned["reason"] == "moved", turned
    [event] = wait_until(lambda: _tampers(base, 1), 20.0, interval_s=0.5, what="a tamper event of the covered one")
    assert event["reason"] == "covered" and event["phase"] == "start", event
    assert event["snapshotUrl"], "a tamper event keeps the picture it was raised on"
    assert web.get(f"{base}{event['snapshotUrl']}").headers["content-type"] == "image/jpeg"

    # The owner says the turned view is the new normal: the event ends, and the view is normal from now on.
    refused = web.post(f"{base}/api/cameras/4/health/reference")
    assert refused.status_code == 409 and "not watched" in refused.json()["detail"]
    assert web.post(f"{base}/api/cameras/99/health/reference").status_code == 404
    answer = web.post(f"{base}/api/cameras/3/health/reference")
    assert answer.status_code == 202 and answer.json()["cameraId"] == 3, answer.text
    ended = wait_until(lambda: [e for e in _tampers(base, 3) if e["phase"] == "end"], 10.0, interval_s=0.2,
                       what="the tamper ended by the new normal")  # fmt: skip
    assert ended[0]["id"] == turned["id"]

    uncovered = wait_until(lambda: [e for e in _tampers(base, 1) if e["phase"] == "end"], 40.0, interval_s=0.5,
                           what="the tamper's end once the hand is gone")  # fmt: skip
    assert uncovered[0]["id"] == event["id"] and uncovered[0]["endedAt"] > uncovered[0]["startedAt"]
    time.sleep(max(0.0, ended[0]["endedAt"] + HOLD_S + 8 - time.time()))  # learnt again, judged past the hold
    assert [e["id"] for e in _tampers(base, 3)] == [turned["id"]], "the turned view is the normal one now"
    # By now the benign camera has played all of its dusk, headlights, person and rain.
    assert _tampers(base, 2) == [], _tampers(base, 2)
    assert _tampers(base, 4) == []
    costs = [s.cameras["1"].inference_ms.get("tamper") for s in worker_statuses(rdb).values() if "1" in s.cameras]
    print(f"tamper look, the worker's moving average: {costs} ms")
    assert costs and costs[0] is not None and costs[0] < 5.0
