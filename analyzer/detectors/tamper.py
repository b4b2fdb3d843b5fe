"""Tamper: a camera covered, blinded, moved or defocused, judged on the frames the analyzer already
decodes against the camera's own reference view (docs/health.md).

A look shrinks the frame to 128x72 grey (sharpness, saturation) and 64x36 (structure, in 8x4
blocks of 8x9 pixels). Every measure is one that a change of light alone leaves alone: a block's
structure is its correlation with the reference block (blind to gain and offset), its contrast is
its spread over its mean (blind to gain), sharpness is the Laplacian's size over the spread. So dusk,
white balance and auto-exposure do not alarm; a reference that adapts over ADAPT_S follows the rest
(weather, a parked car), and stands still while something is suspected.

A frame is suspect for one reason, in this order:
- blinded: a share of the picture saturated beyond the reference's (a torch into the lens);
- covered: most of the blocks that had structure lost it and no longer look like the view (a hand,
  tape, a bag), or the picture went dark and flat beyond the reference's light;
- defocused: sharpness collapsed against the reference's while the view is still there, blurred (a
  sprayed or fogged lens);
- moved: most blocks no longer look like the reference, while the picture is sharp (turned away).
A tamper starts once frames have been suspect for the camera's `health.tamper_s` (a person passing
close to the lens or headlights sweeping are shorter), and ends once none has been for CLEAR_S.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from shared.tamper_reference import TamperReference

SHARP_SIZE = (128, 72)  # width, height
SMALL_SIZE = (64, 36)
GRID_X, GRID_Y = 8, 4
LEARN_S = 5.0  # of frames averaged into a first reference
LEARN_LOOKS = 5
ADAPT_S = 600.0  # the reference's time constant while nothing is suspected
CLEAR_S = 3.0
GRACE_S = 2.0  # a suspicion survives clear frames this long (a tamper's measures waver)
TEXTURED_CV = 0.04  # a block with less spread over its mean has no structure to lose
MIN_TEXTURED = 6  # blocks; fewer (a dark, flat night view): structure is not judged
SATURATED = 250
BLINDED_SHARE = 0.25  # of the picture saturated beyond the reference's
FLAT_RATIO = 0.3  # a block's contrast under this share of the reference's has lost its structure
COVERED_SHARE = 0.5  # of the structured blocks
DARK_RATIO = 0.2  # of the reference's mean light
LIKE_VIEW = 0.6  # the whole picture's correlation with the reference: the view is still there
UNLIKE_BLOCK = 0.35  # a block correlating less does not look like its reference
MOVED_SHARE = 0.45
DEFOCUSED_RATIO = 0.45  # of the reference's sharpness


class TamperReason(StrEnum):
    COVERED = "covered"
    BLINDED = "blinded"
    MOVED = "moved"
    DEFOCUSED = "defocused"


@dataclass(frozen=True)
class Look:
    """What one frame shows, small."""

    small: np.ndarray  # 36x64 float32 grey
    mean: float
    saturated: float
    sharpness: float
    block_mean: np.ndarray  # (32,)
    block_cv: np.ndarray  # (32,): spread over mean


@dataclass
class Reference:
    """The camera's normal view, as it has looked lately."""

    small: np.ndarray
    mean: float
    saturated: float
    sharpness: float
    block_cv: np.ndarray
    since_s: float  # when it was first learned

    def blend(self, look: Look, weight: float) -> None:
        keep = 1.0 - weight
        self.small = keep * self.small + weight * look.small
        self.mean = keep * self.mean + weight * look.mean
        self.saturated = keep * self.saturated + weight * look.saturated
        self.sharpness = keep * self.sharpness + weight * look.sharpness
        self.block_cv = keep * self.block_cv + weight * look.block_cv


@dataclass(frozen=True)
class TamperChange:
    started: TamperReason | None = None
    ended: bool = False
    since_s: float | None = None  # a start's: when the view was first suspect


@dataclass
class Scores:
    """One look's measures against the reference (what the evaluation prints)."""

    saturated_excess: float
    flat_share: float
    unlike_share: float
    view_likeness: float
    sharpness_ratio: float
    dark_ratio: float
    textured: int


def look_at(image: np.ndarray) -> Look:
    """A BGR (or grey) frame's measures: two resizes and a few array passes (docs/health.md: its cost)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    while grey.shape[1] >= 2 * SHARP_SIZE[0] and grey.shape[0] >= 2 * SHARP_SIZE[1]:
        grey = cv2.pyrDown(grey)  # a quarter of the pixels, smoothed: cheaper than one area resize of them all
    sharp = cv2.resize(grey, SHARP_SIZE, interpolation=cv2.INTER_AREA)
    small = cv2.resize(sharp, SMALL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    spread = float(sharp.std())
    laplacian = float(np.abs(cv2.Laplacian(sharp, cv2.CV_32F)).mean())
    blocks = _blocks(small)
    block_mean = blocks.mean(axis=1)
    block_cv = blocks.std(axis=1) / (block_mean + 4.0)
    return Look(small, float(small.mean()), float((sharp >= SATURATED).mean()), laplacian / (spread + 1.0),
                block_mean, block_cv)  # fmt: skip


def _blocks(small: np.ndarray) -> np.ndarray:
    height, width = small.shape
    by, bx = height // GRID_Y, width // GRID_X
    return small.reshape(GRID_Y, by, GRID_X, bx).transpose(0, 2, 1, 3).reshape(GRID_Y * GRID_X, by * bx)


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row: the zero-mean normalised correlation (1: alike up to gain and offset)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1)) + 1e-3
    result: np.ndarray = (a * b).sum(axis=-1) / denominator
    return result


def score(look: Look, reference: Reference) -> Scores:
    textured = reference.block_cv >= TEXTURED_CV
    count = int(textured.sum())
    likeness = _correlation(_blocks(look.small), _blocks(reference.small))
    flat = textured & (look.block_cv < FLAT_RATIO * reference.block_cv)
    unlike = textured & (likeness < UNLIKE_BLOCK)
    view = float(_correlation(look.small.ravel(), reference.small.ravel()))
    return Scores(
        saturated_excess=look.saturated - reference.saturated,
        flat_share=float(flat.sum()) / max(count, 1),
        unlike_share=float(unlike.sum()) / max(count, 1),
        view_likeness=view,
        sharpness_ratio=look.sharpness / max(reference.sharpness, 1e-3),
        dark_ratio=look.mean / max(reference.mean, 1.0),
        textured=count,
    )


def suspect(scores: Scores) -> TamperReason | None:
    """The first reason that holds, in the order of the module's docstring; None: the view looks normal."""
    structured = scores.textured >= MIN_TEXTURED
    view_gone = scores.view_likeness < LIKE_VIEW
    reasons = (
        (TamperReason.BLINDED, scores.saturated_excess >= BLINDED_SHARE),
        (TamperReason.COVERED, scores.dark_ratio < DARK_RATIO
         and (not structured or scores.flat_share >= COVERED_SHARE / 2)),
        (TamperReason.COVERED, structured and scores.flat_share >= COVERED_SHARE and view_gone),
        (TamperReason.DEFOCUSED, structured and scores.sharpness_ratio < DEFOCUSED_RATIO and not view_gone),
        (TamperReason.MOVED, structured and scores.unlike_share >= MOVED_SHARE and view_gone),
    )  # fmt: skip
    return next((reason for reason, holds in reasons if holds), None)


@dataclass
class TamperDetector:
    """One camera's: feed it frames (at any rate) with their capture times."""

    hold_s: float = 10.0
    reference: Reference | None = None
    open_reason: TamperReason | None = None
    _learning: list[Look] = field(default_factory=list)
    _learning_since_s: float | None = None
    _suspect_since_s: float | None = None
    _last_suspect_s: float = float("-inf")
    _suspected: Counter[TamperReason] = field(default_factory=Counter)
    _clear_since_s: float | None = None
    _last_s: float | None = None
    last_scores: Scores | None = None

    def relearn(self) -> None:
        """Forget the reference: the next LEARN_S of frames are the normal view ("the new normal")."""
        self.reference = None
        self._learning, self._learning_since_s = [], None
        self._suspect_since_s, self._clear_since_s = None, None
        self._suspected.clear()

    def update(self, image: np.ndarray, t_s: float) -> TamperChange:
        return self.judge(look_at(image), t_s)

    def judge(self, look: Look, t_s: float) -> TamperChange:
        dt_s = 0.0 if self._last_s is None else min(max(t_s - self._last_s, 0.0), 5.0)
        self._last_s = t_s
        if self.reference is None:
            self._learn(look, t_s)
            return TamperChange()
        self.last_scores = scores = score(look, self.reference)
        reason = suspect(scores)
        if reason is None:
            return self._looks_normal(look, t_s, dt_s)
        self._clear_since_s = None
        self._last_suspect_s = t_s
        if self.open_reason is not None:
            return TamperChange()
        if self._suspect_since_s is None:
            self._suspect_since_s = t_s
        self._suspected[reason] += 1
        if t_s - self._suspect_since_s < self.hold_s:
            return TamperChange()
        self.open_reason = self._suspected.most_common(1)[0][0]
        since_s, self._suspect_since_s = self._suspect_since_s, None
        self._suspected.clear()
        return TamperChange(started=self.open_reason, since_s=since_s)

    def _looks_normal(self, look: Look, t_s: float, dt_s: float) -> TamperChange:
        if t_s - self._last_suspect_s > GRACE_S:
            self._suspect_since_s = None
            self._suspected.clear()
        if self.open_reason is None:
            if self._suspect_since_s is None and self.reference is not None:  # the view as it is now is normal
                self.reference.blend(look, min(1.0, dt_s / ADAPT_S))
            return TamperChange()
        if self._clear_since_s is None:
            self._clear_since_s = t_s
        if t_s - self._clear_since_s < CLEAR_S:
            return TamperChange()
        self.open_reason, self._clear_since_s = None, None
        return TamperChange(ended=True)

    def _learn(self, look: Look, t_s: float) -> None:
        if self._learning_since_s is None:
            self._learning_since_s = t_s
        self._learning.append(look)
        if len(self._learning) < LEARN_LOOKS or t_s - self._learning_since_s < LEARN_S:
            return
        looks = self._learning
        self.reference = Reference(
            small=np.mean([x.small for x in looks], axis=0),
            mean=float(np.mean([x.mean for x in looks])),
            saturated=float(np.mean([x.saturated for x in looks])),
            sharpness=float(np.median([x.sharpness for x in looks])),
            block_cv=np.mean([x.block_cv for x in looks], axis=0),
            since_s=t_s,
        )
        self._learning, self._learning_since_s = [], None


def to_record(reference: Reference, relearned_at_s: float) -> TamperReference:
    return TamperReference(reference.small.astype(np.float32).tobytes(), reference.mean, reference.saturated,
                           reference.sharpness, reference.block_cv.astype(np.float32).tobytes(), reference.since_s,
                           relearned_at_s)  # fmt: skip


def from_record(record: TamperReference) -> Reference:
    small = np.frombuffer(record.small, np.float32).reshape(SMALL_SIZE[1], SMALL_SIZE[0]).copy()
    block_cv = np.frombuffer(record.block_cv, np.float32).copy()
    return Reference(small, record.mean, record.saturated, record.sharpness, block_cv, record.since_s)
