"""Enrolling a face: one picture (uploaded, or an event's snapshot) to one embedding, with the
analyzer's own face detector and recognizer (analyzer.detectors.faces, analyzer.detectors.recognition: the same
models, so what is enrolled and what cameras see compare). The picture must hold exactly one
face; the work runs in a thread, one at a time (a few tens of milliseconds)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from analyzer.detectors.faces import FaceDetector
from analyzer.detectors.recognition import FaceEmbedder, aligned_face
from gateway.faces.picture_size import picture_size
from shared.db.cameras import get_meta, set_meta
from shared.db.engine import DatabaseUnavailable, retrying
from shared.db.faces import PersonExists, add_person, add_sample, list_people
from shared.demo_person import DEMO_PERSON, portrait

log = logging.getLogger(__name__)
DEMO_FLAG = "demo_face_enrolled"

MIN_FACE_PX = 24
MAX_SIDE_PX = 4096


class UnusablePicture(ValueError):
    """The picture cannot be enrolled: a 422 with this text."""


def check_picture(picture: bytes) -> None:
    """Refuse what is not a JPEG or PNG, or declares more than MAX_SIDE_PX a side, before decoding."""
    size = picture_size(picture)
    if size is None:
        raise UnusablePicture("not a picture: send a JPEG or PNG image")
    if max(size) > MAX_SIDE_PX or min(size) < 1:
        raise UnusablePicture(f"the picture is {size[0]}x{size[1]}: at most {MAX_SIDE_PX} pixels a side")


@dataclass(frozen=True)
class Sample:
    embedding: np.ndarray
    face_jpeg: bytes  # the aligned face, 112x112


class Enroller:
    def __init__(self) -> None:
        self._models: tuple[FaceDetector, FaceEmbedder] | None = None
        self._lock = asyncio.Lock()

    async def sample(self, picture: bytes) -> Sample:
        check_picture(picture)  # before the lock and the thread: a bomb costs nothing
        async with self._lock:
            return await asyncio.to_thread(self._sample, picture)

    def _sample(self, picture: bytes) -> Sample:
        check_picture(picture)
        image = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise UnusablePicture("not a picture: send a JPEG or PNG image")
        if self._models is None:
            self._models = (FaceDetector(), FaceEmbedder())
        detector, embedder = self._models
        faces = detector.detect(image, 0.7)
        if not faces:
            raise UnusablePicture("no face found in the picture")
        if len(faces) > 1:
            raise UnusablePicture(f"{len(faces)} faces in the picture: send one with only the person to enrol")
        face = faces[0]
        if min(face.box[2], face.box[3]) < MIN_FACE_PX:
            raise UnusablePicture(f"the face is too small ({min(face.box[2:])} px): at least {MIN_FACE_PX} px wide")
        assert face.landmarks is not None  # YuNet always gives them
        ok, jpeg = cv2.imencode(".jpg", aligned_face(image, face.landmarks), [cv2.IMWRITE_JPEG_QUALITY, 90])
        return Sample(embedder.embed(image, face), jpeg.tobytes() if ok else b"")


async def enrol_demo_person(engine: AsyncEngine, enroller: Enroller) -> None:
    """On the first start with the demo cameras: enrol the demo scenes' person (shared.demo_person),
    once (an admin who deletes them does not get them back), so face events say who it is."""
    picture = portrait()
    if picture is None:
        return
    ok, encoded = cv2.imencode(".png", picture)

    async def enrol(connection: AsyncConnection) -> bool:
        if await get_meta(connection, DEMO_FLAG) is not None:
            return False
        people = {p.name: p.samples for p in await list_people(connection)}
        if people and DEMO_PERSON not in people:  # someone enrolled their own people first
            return False
        if DEMO_PERSON not in people:
            await add_person(connection, DEMO_PERSON)
        if not people.get(DEMO_PERSON):
            await add_sample(connection, DEMO_PERSON, sample.embedding, sample.face_jpeg, "demo")
        await set_meta(connection, DEMO_FLAG, "1")
        await connection.commit()
        return True

    try:
        sample = await enroller.sample(encoded.tobytes() if ok else b"")
        if not await retrying(engine, enrol):
            return
    except (SQLAlchemyError, DatabaseUnavailable, UnusablePicture, PersonExists) as e:
        log.warning("the demo person was not enrolled: %s", type(e).__name__)
        return
    log.info("face recognition: the demo scenes' person is enrolled as %r (delete them under Faces)", DEMO_PERSON)
