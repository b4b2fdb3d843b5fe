"""A camera's `analysis` settings: what the analyzer looks for and where (part of the camera
file's model, shared.cameras)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.labels import COCO_LABELS, DEFAULT_OBJECT_LABELS
from shared.zones import Line, Zone, check_names

# A polygon as [[x, y], ...] in fractions of the frame (0..1), so it survives a change of resolution.
Polygon = Annotated[
    list[Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(min_length=2, max_length=2)]], Field(min_length=3)
]


class ObjectRule(BaseModel):
    """Which boxes of one label count. Sizes are fractions of the frame's area; zones and masks
    are tested at the box's foot point (the middle of its bottom edge: where it stands)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    min_score: float | None = Field(
        default=None, ge=0, le=1, description="None: the label's tuned operating point (0.5); people: person_min_score."
    )
    min_area: float = Field(default=0.0, ge=0, le=1, description="Smaller boxes are ignored (far away, or noise).")
    max_area: float = Field(default=1.0, gt=0, le=1, description="Larger boxes are ignored.")
    zones: list[Polygon] = Field(
        default_factory=list, description="Only inside these polygons (none: the camera's motion_zones, if any)."
    )
    masks: list[Polygon] = Field(default_factory=list, description="Never inside these polygons (a car park's bays).")

    @model_validator(mode="after")
    def _sizes(self) -> ObjectRule:
        if self.min_area >= self.max_area:
            raise ValueError("min_area must be smaller than max_area")
        return self


def _default_objects() -> dict[str, ObjectRule]:
    return {label: ObjectRule() for label in DEFAULT_OBJECT_LABELS}


class AnalysisConfig(BaseModel):
    """What the analyzer does with this camera."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = Field(default=True, description="Run any detection on this camera.")
    fps: float = Field(default=5.0, gt=0, le=30, description="Frames analysed per second.")
    motion: bool = True
    person: bool = True
    face: bool = True
    motion_min_area: float = Field(
        default=0.002, gt=0, lt=1, description="Smallest moving area that counts, as a fraction of the frame."
    )
    motion_zones: list[Polygon] = Field(
        default_factory=list, description="Only motion inside these polygons counts (none: the whole frame)."
    )
    motion_masks: list[Polygon] = Field(
        default_factory=list, description="Motion inside these polygons never counts (trees, roads, clocks)."
    )
    face_everywhere: bool = Field(
        default=False,
        description="Look for faces in the whole frame when no person is found (a doorbell's close-ups); "
        "by default faces are looked for near people only.",
    )
    person_min_score: float = Field(default=0.5, ge=0, le=1)
    face_min_score: float = Field(default=0.6, ge=0, le=1)
    objects: dict[str, ObjectRule] = Field(
        default_factory=_default_objects,
        description="The object labels reported besides people, each with its rule ({} for none); a `person` "
        "entry sets people's sizes, zones and masks. Needs the NanoDet detector (CAMSTREAM_ANALYZER_DETECTOR).",
    )
    detect_long_side: int | None = Field(
        default=None,
        ge=128,
        le=1280,
        multiple_of=32,
        description="NanoDet's input for this camera, its longer side in pixels (None: the worker's "
        "CAMSTREAM_ANALYZER_INPUT_LONG_SIDE, 256): more finds smaller, more distant objects at a cost "
        "(320: 1.5x, 416: 2.5x; docs/analyzer.md).",
    )
    stationary_s: float = Field(
        default=30.0,
        gt=0,
        le=86_400,
        description="An object (not a person) that has not moved for this long is stationary: its event ends, "
        "marked so, and a new one starts only when it moves again.",
    )

    zones: list[Zone] = Field(
        default_factory=list, max_length=32,
        description="Named zones: tracks entering, leaving and lingering (`zone_entered`, `zone_left`, "
        "`loitering`) and how many are in each (docs/rules.md).",
    )  # fmt: skip
    lines: list[Line] = Field(
        default_factory=list, max_length=32,
        description="Directed lines: tracks crossing them each way (`line_crossed`), counted (docs/rules.md).",
    )  # fmt: skip

    @model_validator(mode="after")
    def _unique_names(self) -> AnalysisConfig:
        check_names(self.zones, self.lines)
        return self

    @field_validator("objects")
    @classmethod
    def _known_labels(cls, objects: dict[str, ObjectRule]) -> dict[str, ObjectRule]:
        unknown = sorted(set(objects) - set(COCO_LABELS))
        if unknown:
            raise ValueError(f"unknown label {unknown[0][:40]!r}: the object model knows {', '.join(COCO_LABELS)}")
        return objects

    def rule(self, label: str) -> ObjectRule | None:
        """The rule a label's boxes follow; None when the camera does not report the label."""
        if label == "person":
            return self.objects.get("person", ObjectRule()) if self.person else None
        return self.objects.get(label)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the camera reports, people first."""
        return (*(("person",) if self.person else ()), *(label for label in self.objects if label != "person"))
