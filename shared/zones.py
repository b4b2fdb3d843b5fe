"""A camera's named zones and directed lines, where the analyzer's rules look (part of the camera's
`analysis`, shared.analysis; docs/rules.md). Points are [x, y] fractions of the frame (0..1), so
they survive a change of resolution. A track is where its box's foot point is (the middle of its
bottom edge: where it stands)."""

from __future__ import annotations

import itertools
import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.labels import COCO_LABELS

Point = Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(min_length=2, max_length=2)]
# Names go into MQTT topics (<prefix>/<id>/zones/<name>/occupancy): letters, digits, spaces, - and _.
Name = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]*$")]
Identity = Annotated[str, Field(min_length=1, max_length=100)]  # an enrolled person's name, as enrolled
OBJECT_TYPES = ("person", "face", *(label for label in COCO_LABELS if label != "person"))
MIN_LENGTH = 0.01  # of the frame: a shorter segment is a slip of the mouse, and would count nothing


def _known_objects(objects: list[str]) -> list[str]:
    unknown = [o for o in objects if o not in OBJECT_TYPES]
    if unknown:
        raise ValueError(f"unknown object type {unknown[0][:40]!r}: person, face, or a label the object model "
                         f"knows ({', '.join(COCO_LABELS[1:6])}, ...)")  # fmt: skip
    if not objects:
        raise ValueError("objects must name at least one object type")
    return objects


class Rule(BaseModel):
    """What a zone and a line share: a name, and whose tracks they count."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Name
    objects: list[str] = Field(default_factory=lambda: ["person"], description="The object types it counts.")
    identities: list[Identity] = Field(
        default_factory=list, max_length=64,
        description="Only faces recognised as one of these enrolled people (objects: [face]); none: anyone.",
    )  # fmt: skip

    _objects = field_validator("objects")(_known_objects)

    def looks_at(self, label: str, identity: str | None) -> bool:
        """Whether a track of this label (a face: of this identity) is one this rule counts."""
        return label in self.objects and (not self.identities or identity in self.identities)


class Zone(Rule):
    """An area: tracks entering and leaving it, how many are in it, and who lingers."""

    points: list[Point] = Field(min_length=3, max_length=64, description="The polygon, [x, y] fractions of the frame.")
    loiter_s: float | None = Field(
        default=None, gt=0, le=86_400,
        description="A track in the zone this long is `loitering` (one event, ended when it leaves); None: never.",
    )  # fmt: skip


class Line(Rule):
    """A directed line: tracks crossing it, each way. Walking from its first point to its last, `in` is
    crossing from left to right (the arrow the zone editor draws), `out` the other way."""

    points: list[Point] = Field(description="Two or more points: a line, or a path of segments.")

    @field_validator("points")
    @classmethod
    def _long_enough(cls, points: list[list[float]]) -> list[list[float]]:
        if len(points) < 2:
            raise ValueError("a line needs at least two points")
        if len(points) > 16:
            raise ValueError("a line has at most 16 points")
        for a, b in itertools.pairwise(points):
            if math.dist(a, b) < MIN_LENGTH:
                raise ValueError(f"a line's segments must be at least {MIN_LENGTH} of the frame long (zero length)")
        return points


def check_names(zones: list[Zone], lines: list[Line]) -> None:
    """Every zone and line of a camera has a name of its own (they are the counts' and topics' keys)."""
    seen: set[str] = set()
    for name in [z.name for z in zones] + [line.name for line in lines]:
        if name.casefold() in seen:
            raise ValueError(f"duplicate zone or line name {name!r}: each needs a name of its own")
        seen.add(name.casefold())
