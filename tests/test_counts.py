"""GET /api/counts from the event history (the gateway in-process, a real Redis and the test's
database): each line's crossings each way and each zone's entries per bucket, the totals, the
occupancy the worker wrote; bad buckets and windows a 400, unknown cameras and names a 404. And
the camera API refuses bad lines and zones with the reason (422)."""

from __future__ import annotations

import time

import pytest
import redis
from pydantic import SecretStr

from shared import keys
from shared.analysis import AnalysisConfig
from shared.cameras import Camera, CameraFile
from shared.db.events import EventHistory, StoredEvent
from shared.detections import Event, EventPhase, EventType
from shared.process import opened_database
from shared.status import ZoneOccupancy
from shared.zones import Line, Zone
from tests.support.inprocess import api, settings

DOOR = Line(name="door", points=[[0.5, 0.9], [0.5, 0.1]])
HALL = Zone(name="hall", points=[[0.6, 0.0], [1.0, 0.0], [1.0, 1.0]])
SHOP = Camera(id=1, name="shop", source=SecretStr("demo:shop"), analysis=AnalysisConfig(lines=[DOOR], zones=[HALL]))


def _event(n: int, kind: EventType, at_s: float, **where: str) -> Event:
    return Event(f"1-{n:016x}", 1, kind, EventPhase.END, at_s, at_s, 0.9, None, 3, False, at_s, label="person",
                 track_id=n, **where)  # fmt: skip


@pytest.mark.asyncio
async def test_counts_per_bucket_with_totals_and_occupancy(redis_url: str) -> None:
    start = (time.time() // 3600 - 3) * 3600  # three hours ago, on the hour
    crossings = [("in", 10), ("in", 20), ("out", 30), ("in", 3700), ("out", 7300), ("out", 7400)]
    stored = [_event(i, EventType.LINE_CROSSED, start + t, line="door", direction=d)
              for i, (d, t) in enumerate(crossings)]  # fmt: skip
    stored += [_event(100 + i, EventType.ZONE_ENTERED, start + t, zone="hall") for i, t in enumerate((50, 3650))]
    stored.append(_event(200, EventType.LOITERING, start + 60, zone="hall"))
    async with opened_database(settings(redis_url)) as engine:
        await EventHistory(engine).store([StoredEvent(e, None) for e in stored])
    client = redis.Redis.from_url(redis_url)
    client.set(keys.zone_occupancy(1), ZoneOccupancy(1, {"hall": 2}, time.time()).encode(), ex=30)
    client.close()
    async with api(redis_url, cameras=CameraFile(cameras=[SHOP])) as http:
        answer = await http.get(f"/api/counts?camera_id=1&since={start}&until={start + 3 * 3600}&bucket=1h")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["bucket"] == 3600 and body["cameraId"] == 1
        [door] = body["lines"]
        assert (door["name"], door["in"], door["out"]) == ("door", 3, 3)
        assert [(b["in"], b["out"]) for b in door["buckets"]] == [(2, 1), (1, 0), (0, 2)]
        [hall] = body["zones"]
        assert (hall["entered"], hall["loitering"], hall["occupancy"]) == (2, 1, 2)
        assert [b["entered"] for b in hall["buckets"]] == [1, 1, 0]
        only = (await http.get(f"/api/counts?camera_id=1&name=door&since={start}&bucket=1d")).json()
        assert [x["name"] for x in only["lines"]] == ["door"] and only["zones"] == []
        assert only["lines"][0]["in"] == 3
        for query, status in (("camera_id=1&bucket=7x", 400), ("camera_id=1&bucket=10s", 400),
                              (f"camera_id=1&since={start}&until={start - 1}", 400),
                              ("camera_id=1&since=0&bucket=1m", 400), ("camera_id=9", 404),
                              ("camera_id=1&name=nowhere", 404), ("camera_id=0", 422)):  # fmt: skip
            reply = await http.get(f"/api/counts?{query}")
            assert reply.status_code == status, (query, reply.text)


@pytest.mark.asyncio
async def test_the_camera_api_refuses_bad_lines_and_zones_with_the_reason(redis_url: str) -> None:
    async with api(redis_url) as http:
        camera = {"id": 5, "name": "door", "source": "rtsp://127.0.0.1:9/door"}
        for analysis, reason in (
            ({"lines": [{"name": "a", "points": [[0.1, 0.1]]}]}, "at least two points"),
            ({"lines": [{"name": "a", "points": [[0.2, 0.2], [0.2, 0.2]]}]}, "zero length"),
            ({"lines": [{"name": "a", "points": [[0.2, 1.2], [0.2, 0.5]]}]}, "less than or equal to 1"),
            ({"lines": [{"name": "a", "points": [[0.2, 0.2], [0.6, 0.2]]}],
              "zones": [{"name": "a", "points": [[0, 0], [1, 0], [1, 1]]}]}, "duplicate zone or line name"),
            ({"zones": [{"name": "z", "points": [[0, 0], [1, 0], [1, 1]], "objects": ["dragon"]}]},
             "unknown object type"),
        ):  # fmt: skip
            reply = await http.post("/api/cameras", json={**camera, "analysis": analysis})
            assert reply.status_code == 422 and reason in reply.text, (analysis, reply.text)
        good = {"lines": [{"name": "door", "points": [[0.5, 0.9], [0.5, 0.1]]}],
                "zones": [{"name": "hall", "points": [[0.6, 0], [1, 0], [1, 1]], "loiter_s": 30}]}  # fmt: skip
        made = await http.post("/api/cameras", json={**camera, "analysis": good})
        assert made.status_code == 201, made.text
        assert made.json()["analysis"]["lines"][0]["name"] == "door"
