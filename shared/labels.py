"""What the object model can name: the 80 COCO labels NanoDet-g was trained on, in its order
(its output's label ids), and the set a camera reports unless told otherwise."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from pydantic import AfterValidator

COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# Besides people (analysis.person): what comes and goes outside a house. Furniture, food and
# kitchenware are left off: a camera that sees a table sees it all day.
DEFAULT_OBJECT_LABELS = ("bicycle", "car", "motorcycle", "bus", "truck", "bird", "cat", "dog", "horse")

# Labels an event can carry: the model's, and faces (the face detector's).
EVENT_LABELS = (*COCO_LABELS, "face")

# What an event filter may name (recordings' `event_types`, webhooks' and notifications' `types`):
# an event type, or an object's label, which picks that label's events only.
EVENT_KINDS = (
    "motion", "person", "face", "object", "recording_gap", "offline", "tamper", "line_crossed", "zone_entered",
    "zone_left", "loitering", *(label for label in COCO_LABELS if label != "person"),
)  # fmt: skip
# The event types whose `label` a filter's label picks (a rule's event says what crossed, but a filter
# naming `dog` asks for dogs seen, not for every line a dog crossed: name `line_crossed` for those).
DETECTION_TYPES = ("person", "face", "object")


def event_kind(value: str) -> str:
    """A filter's entry, checked (pydantic's AfterValidator)."""
    if value not in EVENT_KINDS:
        raise ValueError(
            f"unknown event type or label {value[:40]!r}: "
            "motion, person, face, object, recording_gap, offline, tamper, line_crossed, zone_entered, zone_left, "
            "loitering or an object label"
        )
    return value


EventKind = Annotated[str, AfterValidator(event_kind)]


def matches(kinds: Collection[str], event_type: str, label: str | None) -> bool:
    """Whether an event of this type and label is one a filter's kinds name."""
    return event_type in kinds or (event_type in DETECTION_TYPES and label is not None and label in kinds)
