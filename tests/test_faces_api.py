"""Known faces through the API (the gateway app in-process, against a real Redis and SQLite):
enrolment from an uploaded picture and from an event's snapshot, bad uploads refused with their
reason, deletion taking every sample along; and the analyzer's recognition of an enrolled
person in another frame of their shot, an unenrolled one staying unknown."""

from __future__ import annotations

import resource
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest

from analyzer.detectors.faces import FaceDetector
from analyzer.detectors.recognition import FaceEmbedder, Recognizer, best_match
from analyzer.pipeline import CameraAnalysis
from shared.analysis import AnalysisConfig
from shared.db.engine import connect, create_engine
from shared.db.events import EventHistory, StoredEvent
from shared.db.faces import gallery
from shared.db.url import database_url as url_of
from shared.demo_person import DEMO_PERSON, portrait
from shared.detections import Box, Event, EventPhase, EventType
from shared.settings import Settings
from tests.support import DATA, ServiceRun, wait_until, web, write_camera_file
from tests.support.inprocess import api

CLIP = DATA / "tears_of_steel_clip01_640x360.mp4"


def frames(*wanted: int) -> dict[int, np.ndarray]:
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    with av.open(str(CLIP)) as container:
        return {i: f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i in wanted}


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


async def test_people_are_enrolled_recognised_and_forgotten(redis_url: str) -> None:
    shots = frames(70, 150, 232, 238)  # the man with glasses twice, the woman twice (by-eye labels)
    async with api(redis_url) as http:
        assert (await http.post("/api/faces", json={"name": "Glasses"})).status_code == 201
        assert (await http.post("/api/faces", json={"name": "Glasses"})).status_code == 409
        assert (await http.post("/api/faces", json={"name": "unknown"})).status_code == 422
        added = await http.post("/api/faces/Glasses/samples", content=jpeg(shots[70]),
                                headers={"Content-Type": "image/jpeg"})  # fmt: skip
        assert added.status_code == 200 and added.json()["samples"] == 1, added.text

        # Bad uploads: each a clear 4xx.
        for body, kind, status, words in (
            (b"not a picture", "image/jpeg", 422, "not a picture"),
            (jpeg(np.full((200, 200, 3), 90, np.uint8)), "image/jpeg", 422, "no face"),
            (jpeg(np.hstack([shots[70], shots[232]])), "image/jpeg", 422, "2 faces"),
            (b"x" * (5 * 1024 * 1024), "image/png", 413, "larger than"),
            (b"{}", "text/plain", 415, "JPEG or PNG"),
        ):
            reply = await http.post("/api/faces/Glasses/samples", content=body, headers={"Content-Type": kind})
            assert reply.status_code == status and words in reply.text, (words, reply.status_code, reply.text)
        missing = await http.post("/api/faces/Nobody/samples", content=jpeg(shots[70]),
                                  headers={"Content-Type": "image/jpeg"})  # fmt: skip
        assert missing.status_code == 404

        # From an event's snapshot: a face event of the woman, stored as the analyzer stores them.
        assert (await http.post("/api/faces", json={"name": "Woman"})).status_code == 201
        engine = create_engine(url_of(Settings()))
        history = EventHistory(engine)
        now = time.time()
        face_box = Box(210, 40, 200, 200)
        event = Event(
            "1-0000000000000abc", 1, EventType.FACE, EventPhase.END, now - 2, now, 0.9, face_box, 4, True, now
        )
        await history.store([StoredEvent(event, jpeg(shots[232]))])
        picked = await http.post("/api/faces/Woman/samples", json={"eventId": event.id})
        assert picked.status_code == 200 and picked.json()["samples"] == 1, picked.text
        listed = (await http.get("/api/faces")).json()
        assert [(p["name"], p["samples"]) for p in listed] == [("Glasses", 1), ("Woman", 1)]

        # The analyzer's matching: the same people in other frames, by name; a stranger unknown.
        async with connect(history.engine) as connection:
            known = await gallery(connection)
        detector, embedder = FaceDetector(), FaceEmbedder()
        for frame, name in ((150, "Glasses"), (238, "Woman")):
            face = max(detector.detect(shots[frame], 0.6), key=lambda f: f.box[2])
            match = best_match(embedder.embed(shots[frame], face), known)
            assert match.name == name and match.similarity >= 0.363, (frame, match)
        stranger = max(detector.detect(shots[238], 0.6), key=lambda f: f.box[2])
        assert best_match(embedder.embed(shots[238], stranger), {"Glasses": known["Glasses"]}).name is None

        # Deleting a person deletes their samples and embeddings.
        assert (await http.delete("/api/faces/Woman")).status_code == 204
        assert (await http.delete("/api/faces/Woman")).status_code == 404
        async with connect(history.engine) as connection:
            assert set(await gallery(connection)) == {"Glasses"}
        assert [p["name"] for p in (await http.get("/api/faces")).json()] == ["Glasses"]
        await engine.dispose()


def test_the_analyzer_names_an_enrolled_face_in_its_events_and_leaves_others_unknown() -> None:
    shots = frames(*range(70, 140, 3), *range(230, 240))
    detector, embedder = FaceDetector(), FaceEmbedder()
    face = max(detector.detect(shots[70], 0.6), key=lambda f: f.box[2])
    recognizer = Recognizer(embedder)
    recognizer.known = {"Glasses": embedder.embed(shots[70], face)[None]}
    config = AnalysisConfig(motion=False, person=False, face_everywhere=True)
    events: list[Event] = []
    for camera, wanted in ((1, range(73, 140, 3)), (2, range(230, 240))):
        analysis = CameraAnalysis(camera, config, None, detector, idle_detect_s=0.1, recognizer=recognizer)
        for n, i in enumerate(wanted):
            events += [e.event for e in analysis.analyse(shots[i], 1.0, n / 5, b"jpeg", float(n)).events]
        events += [e.event for e in analysis.close(99.0)]
    named = {(e.camera_id, e.phase): e for e in events if e.type is EventType.FACE}
    assert named[(1, EventPhase.START)].identity == "Glasses" and named[(1, EventPhase.END)].identity == "Glasses"
    assert named[(1, EventPhase.END)].similarity >= 0.363  # type: ignore[operator]
    assert named[(2, EventPhase.END)].identity is None and named[(2, EventPhase.END)].similarity is not None


def test_a_person_enrolled_while_cameras_run_is_named_in_the_events(
    ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    """Real processes: the film clip as a camera; the man with glasses enrolled through the API from a
    picture of him; the running analyzer picks him up and his face events carry his name."""
    picture = jpeg(frames(70)[70])
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "film", "source": str(CLIP), "fps": 10,
                                            "record": {"mode": "off"}}])  # fmt: skip
    ingest(cameras)
    analyzer(cameras)
    base = gateway(cameras)
    assert web.post(f"{base}/api/faces", json={"name": "Glasses"}).status_code == 201
    added = httpx.post(f"{base}/api/faces/Glasses/samples", content=picture,
                       headers={**web.headers(base), "Content-Type": "image/jpeg"})  # fmt: skip
    assert added.status_code == 200, added.text

    def named() -> list[dict[str, object]]:
        events: list[dict[str, object]] = web.get(f"{base}/api/events", params={"identity": "Glasses"}).json()["events"]
        return events

    found = wait_until(named, 60.0, interval_s=1.0, what="a face event named Glasses")
    assert found[0]["type"] == "face" and float(found[0]["similarity"]) >= 0.363  # type: ignore[arg-type]


def test_the_demo_shows_people_faces_and_a_named_face_within_a_minute(
    ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun], gateway: Callable[..., str],
) -> None:  # fmt: skip
    """The run command's demo cameras (no camera file): the gateway enrols the demo scenes' person on
    its first start, and person, face and named face events follow within a minute."""
    if portrait() is None:
        pytest.skip("scikit-image's sample pictures are not installed (scripts/setup.sh installs them)")
    base = gateway(None)
    ingest(None)
    analyzer(None)
    people = wait_until(lambda: web.get(f"{base}/api/faces").json(), 30.0, what="the demo person enrolled")
    assert people == [{"name": DEMO_PERSON, "samples": 1, "createdAt": people[0]["createdAt"]}]

    def kinds() -> set[str]:
        events = web.get(f"{base}/api/events", params={"limit": 200}).json()["events"]
        return {e["type"] for e in events} | {"named" for e in events if e["identity"] == DEMO_PERSON}

    wait_until(lambda: {"motion", "person", "face", "named"} <= kinds(), 60.0, interval_s=1.0,
               what="motion, person, face and named face events")  # fmt: skip


def _png_bomb(side: int) -> bytes:
    """A real PNG of side x side black pixels at 1 bit each: about 130 KB that decode to 3 GiB (BGR)."""
    row = b"\x00" * (1 + side // 8)  # filter byte, then the row's bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


async def test_a_decompression_bomb_is_refused_from_its_header(redis_url: str) -> None:
    bomb = _png_bomb(32768)
    assert len(bomb) < 1024 * 1024
    async with api(redis_url) as http:
        assert (await http.post("/api/faces", json={"name": "Bomb"})).status_code == 201
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        reply = await http.post("/api/faces/Bomb/samples", content=bomb, headers={"Content-Type": "image/png"})
        took = time.monotonic() - started
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert reply.status_code == 422 and "32768x32768" in reply.text, reply.text
    assert took < 1.0 and grown_mb < 50, (took, grown_mb)
