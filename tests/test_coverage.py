"""Recording completeness: what each mode asks for, what is kept, the gaps and their causes
(shared.coverage), and `GET /api/recordings/coverage` on an index and a history of the test's own."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from shared.analysis import AnalysisConfig
from shared.cameras import Camera, CameraFile, RecordConfig
from shared.coverage import Gap, HealthSpan, coverage, subtract, union, utc_days
from shared.db.cameras import created_at
from shared.db.engine import connect
from shared.db.events import EventHistory, StoredEvent
from shared.db.recordings import RecordingIndex
from shared.detections import Event, EventPhase, EventType
from shared.process import opened_database
from tests.support.inprocess import api, settings

DAY = 86400.0
MIDNIGHT = 1_764_979_200.0  # 2025-12-06 00:00 UTC


def camera(mode: str, **record: object) -> Camera:
    return Camera(id=1, name="porch", source=SecretStr("demo:"), record=RecordConfig(mode=mode, **record))  # type: ignore[arg-type]


def test_intervals_merge_and_subtract() -> None:
    assert union([(5, 6), (0, 2), (1, 3), (3, 4), (7, 7)]) == [(0, 4), (5, 6)]
    assert subtract([(0, 10), (20, 30)], [(2, 3), (5, 22), (29, 40)]) == [(0, 2), (3, 5), (22, 29)]
    assert subtract([(0, 10)], []) == [(0, 10)] and subtract([(0, 10)], [(0, 10)]) == []


def test_each_mode_asks_for_its_own_footage_and_gaps_name_their_cause() -> None:
    kept = [(MIDNIGHT, MIDNIGHT + 600), (MIDNIGHT + 900, MIDNIGHT + 3600)]
    person = ("person", "person", (MIDNIGHT + 700, MIDNIGHT + 720))
    car = ("object", "car", (MIDNIGHT + 100, MIDNIGHT + 110))
    offline = [HealthSpan(MIDNIGHT + 601, MIDNIGHT + 899, "camera offline (connection refused)")]
    window = (MIDNIGHT, MIDNIGHT + 3600)

    whole = coverage(camera("continuous"), window, kept, [person, car], offline)
    assert (whole.required_s, whole.kept_s) == (3600, 3300) and round(whole.fraction or 0, 4) == 0.9167
    assert whole.gaps == [Gap(MIDNIGHT + 600, MIDNIGHT + 900, "camera offline (connection refused)")]

    people = coverage(camera("events", event_types=["person"], pre_s=5, post_s=5), window, kept, [person, car], [])
    assert people.required_s == 30 and people.kept_s == 0  # the person came while nothing was recorded
    assert people.gaps == [Gap(MIDNIGHT + 695, MIDNIGHT + 725, None)]

    cars = coverage(camera("events", event_types=["car"], pre_s=5, post_s=5), window, kept, [person, car], [])
    assert (cars.required_s, cars.kept_s, cars.gaps) == (20, 20, [])

    anything = coverage(camera("motion", pre_s=0, post_s=0), window, kept, [person, car], [])
    assert (anything.required_s, anything.kept_s) == (30, 10)

    nothing = coverage(camera("off"), window, kept, [person], [])
    assert (nothing.required_s, nothing.fraction, nothing.gaps) == (0, None, [])
    disabled = coverage(camera("continuous", enabled=False), window, kept, [], [])
    assert disabled.mode == "off" and disabled.required_s == 0
    added_late = coverage(camera("continuous"), window, kept, [], [], added_s=MIDNIGHT + 1800)
    assert (added_late.required_s, added_late.kept_s) == (1800, 1800)  # nothing asked before it was added


def test_days_are_utc_days_and_holes_under_two_seconds_are_joins() -> None:
    assert [d for d, _a, _b in utc_days(MIDNIGHT - 60, MIDNIGHT + DAY + 60)] == ["2025-12-05", "2025-12-06",
                                                                                 "2025-12-07"]  # fmt: skip
    kept = [(MIDNIGHT - 3600, MIDNIGHT + 10), (MIDNIGHT + 11.5, MIDNIGHT + 3600)]
    result = coverage(camera("continuous"), (MIDNIGHT - 3600, MIDNIGHT + 3600), kept, [], [])
    assert result.gaps == [] and [(d.day, d.required_s) for d in result.days] == [("2025-12-05", 3600),
                                                                                   ("2025-12-06", 3600)]  # fmt: skip


async def test_the_coverage_api_reports_the_fraction_and_the_gap_with_its_cause(redis_url: str) -> None:
    now = time.time()
    start = now - 1000
    porch = Camera(id=1, name="porch", source=SecretStr("demo:"), record=RecordConfig(mode="continuous"),
                   analysis=AnalysisConfig(enabled=False))  # fmt: skip
    async with opened_database(settings(redis_url)) as engine:
        await RecordingIndex(engine).add([
            {"camera_id": 1, "start_ms": int((start + 10 * i) * 1000), "end_ms": int((start + 10 * i + 10) * 1000),
             "bytes": 1000, "path": f"/nowhere/1/{i}.mp4"}
            for i in range(90) if not 40 <= i < 60  # 200 s missing in the middle
        ])  # fmt: skip
        offline = Event("1-00000000000000f1", 1, EventType.OFFLINE, EventPhase.END, start + 401, start + 598, None,
                        None, 0, False, now, reason="connection refused")  # fmt: skip
        await EventHistory(engine).store([StoredEvent(offline, None)])
    async with api(redis_url, cameras=CameraFile(cameras=[porch])) as http:
        answer = (await http.get(f"/api/recordings/coverage?camera_id=1&since={start}&until={start + 900}")).json()
        [one] = answer["cameras"]
        assert (one["mode"], one["required"]) == ("continuous", 900) and one["kept"] == pytest.approx(700, abs=0.01)
        assert round(one["fraction"], 3) == 0.778
        [gap] = one["gaps"]
        assert abs(gap["start"] - (start + 400)) < 0.01 and abs(gap["end"] - (start + 600)) < 0.01
        assert gap["cause"] == "camera offline (connection refused)"
        assert sum(d["required"] for d in one["days"]) == pytest.approx(900)
        assert (await http.get("/api/recordings/coverage?camera_id=9")).status_code == 404
        assert (await http.get(f"/api/recordings/coverage?since={now}&until={now - 10}")).status_code == 400
        default = (await http.get("/api/recordings/coverage")).json()
        assert default["until"] <= time.time() - 10  # the segment being written is not judged
        metrics = (await http.get("/metrics")).text
        [line] = [x for x in metrics.splitlines() if x.startswith("camstream_recording_coverage_ratio{")]
        assert line.startswith('camstream_recording_coverage_ratio{camera="1"}')
        assert 0 < float(line.split()[-1]) < 0.01  # 700 s of the last day's 86,400
        added = await http.post("/api/cameras", json={"id": 2, "name": "new", "source": "rtsp://127.0.0.1:9/new",
                                                      "record": {"mode": "continuous"}})  # fmt: skip
        assert added.status_code == 201, added.text
        async with opened_database(settings(redis_url)) as engine, connect(engine) as connection:
            assert await created_at(connection, 2) == pytest.approx(time.time(), abs=30)
        [new] = (await http.get(f"/api/recordings/coverage?camera_id=2&since={start}")).json()["cameras"]
        # Added just now: nothing was asked of it before, though the window is 1,000 s long.
        assert (new["mode"], new["required"], new["fraction"]) == ("continuous", 0, None)
