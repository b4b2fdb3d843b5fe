"""Known faces: who the analyzer recognises. Everyone signed in lists them; admins enrol people
(a name, then one or more pictures: an upload, or an event's snapshot) and delete them, which
deletes every sample of theirs. Analyzers reload the list within a few seconds of a change."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import Field

from gateway.auth.deps import AdminOnly, PrincipalDep, client_of
from gateway.faces.enrolment import UnusablePicture
from gateway.models import ApiModel
from gateway.state import GatewayDep
from shared.db.faces import KnownPerson, PersonExists

router = APIRouter(tags=["faces"])
admin_router = APIRouter(tags=["faces"], dependencies=[AdminOnly])

NAME = re.compile(r"^[^\x00-\x1f\x7f/]{1,100}$")
Name = Annotated[str, Path(min_length=1, max_length=100, description="The person's name")]
PICTURE_TYPES = ("image/jpeg", "image/png")


class PersonOut(ApiModel):
    name: str
    samples: int  # pictures enrolled
    created_at: float

    @classmethod
    def of(cls, person: KnownPerson) -> PersonOut:
        return cls(name=person.name, samples=person.samples, created_at=person.created_at_s)


class PersonIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)


class SampleFromEvent(ApiModel):
    event_id: str = Field(min_length=1, max_length=64, description="A face event whose snapshot holds the face")


def _checked(name: str) -> str:
    name = name.strip()
    if not NAME.match(name) or name.lower() == "unknown":
        raise HTTPException(status_code=422, detail="name: 1 to 100 characters, no '/' or control characters, "
                                                    "and not 'unknown'")  # fmt: skip
    return name


@router.get("/api/faces", response_model=list[PersonOut])
async def faces(gateway: GatewayDep) -> list[PersonOut]:
    """The people enrolled, with how many pictures each."""
    return [PersonOut.of(p) for p in await gateway.people.all()]


@admin_router.post(
    "/api/faces", status_code=201, response_model=PersonOut, responses={409: {"description": "Name taken"}}
)
async def enrol(body: PersonIn, gateway: GatewayDep, who: PrincipalDep, request: Request) -> PersonOut:
    """Enrol a person by name (then add pictures: `POST /api/faces/{name}/samples`); 409 if taken."""
    name = _checked(body.name)
    try:
        person = await gateway.people.enrol(name)
    except PersonExists as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    await gateway.accounts.record("face enrolled", who.name, name, client_of(request))
    return PersonOut.of(person)


@admin_router.delete("/api/faces/{name}", status_code=204, responses={404: {"description": "Nobody by that name"}})
async def forget(name: Name, gateway: GatewayDep, who: PrincipalDep, request: Request) -> None:
    """Delete a person and every picture and embedding of theirs."""
    if not await gateway.people.forget(name):
        raise HTTPException(status_code=404, detail="nobody enrolled by that name")
    await gateway.accounts.record("face deleted", who.name, name, client_of(request))


@admin_router.post(
    "/api/faces/{name}/samples",
    response_model=PersonOut,
    openapi_extra={"requestBody": {"content": {
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": SampleFromEvent.model_json_schema(by_alias=True)},
    }}},
    responses={404: {"description": "Nobody by that name, or no such event snapshot"},
               413: {"description": "larger than 4 MiB"}, 415: {"description": "not JPEG, PNG or JSON"},
               422: {"description": "no face, several faces, not a picture"}},
)  # fmt: skip
async def add_picture(name: Name, request: Request, gateway: GatewayDep, who: PrincipalDep) -> PersonOut:
    """Add a picture of the person: the body a JPEG or PNG (`Content-Type: image/jpeg` or
    `image/png`, at most 4 MiB), or JSON `{"eventId": "..."}` for a face event's snapshot. The
    picture must hold exactly one face."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind in PICTURE_TYPES:
        picture, source = body, "upload"
    elif kind == "application/json":
        try:
            wanted = SampleFromEvent.model_validate_json(body)
        except ValueError:
            raise HTTPException(status_code=422, detail='expected {"eventId": "..."}') from None
        snapshot = await gateway.history.snapshot(wanted.event_id)
        if snapshot is None:
            raise HTTPException(status_code=404, detail=f"no snapshot for event {wanted.event_id[:80]}")
        picture, source = snapshot, f"event {wanted.event_id}"
    else:
        raise HTTPException(status_code=415, detail='send a JPEG or PNG picture, or JSON {"eventId": ...}')
    try:
        sample = await gateway.enroller.sample(picture)
    except UnusablePicture as e:
        raise HTTPException(status_code=422, detail=str(e)) from None
    try:
        person = await gateway.people.add_sample(name, sample.embedding, sample.face_jpeg, source)
    except LookupError:
        raise HTTPException(status_code=404, detail="nobody enrolled by that name: POST /api/faces first") from None
    await gateway.accounts.record("face sample added", who.name, name, client_of(request), {"source": source[:80]})
    return PersonOut.of(person)
