"""`python -m analyzer.evaluate --tracking [--fps 5]`: the person tracker against the ground truth
of PETS09-S2L1 and TUD-Campus (../shared/data), in standard multi-object-tracking metrics
(motmetrics: MOTA, IDF1, identity switches), the tracker as it was and as it is side by side; and
the crossings of the lines in analyzer/data/counting_lines.json counted each way, from the ground
truth's tracks and from each tracker's (analyzer.rules, as workers count them).

Each sequence is played as a camera analysed at --fps (5, as workers do by default): the frames a
worker would analyse are read whole by the person detector (the settings' model, people at the
camera's default score, 0.5), and the same detections go to each tracker. A tracker's output in a
frame is the box of every confirmed track that a detection of that frame updated (what the
worker publishes with a track id). Ground-truth boxes are rescaled from the sequence's own size
(its *.seqinfo.ini), conf-0 boxes left out; a box matches at IoU 0.5 or more.
"""

from __future__ import annotations

import argparse
import configparser
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import motmetrics
import numpy as np

from analyzer.detectors.build import build_detector
from analyzer.detectors.detection import Detection
from analyzer.detectors.geometry import iou
from analyzer.rules import Rules
from analyzer.tracking import Track, Tracker
from shared.analysis import AnalysisConfig
from shared.settings import load_settings
from shared.zones import Line

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEQUENCES = {"PETS09-S2L1": "vtest_PETS09-S2L1_480x360.avi", "TUD-Campus": "TUD-Campus.mp4"}
MATCH_IOU = 0.5
COUNTING_LINES = Path(__file__).parent / "data" / "counting_lines.json"
METRICS = ["mota", "idf1", "num_switches", "precision", "recall", "num_objects", "num_unique_objects"]


@dataclass(frozen=True)
class Played:
    """A sequence as a worker analyses it: the frames analysed (numbered from 1) and their detections."""

    name: str
    fps: float
    frames: list[int]
    detections: list[list[Detection]]
    size: tuple[int, int]


# The trackers compared: the one issue 30 started from, and the one workers run now.
TRACKERS: dict[str, Callable[[], Tracker]] = {
    "before (IoU only)": lambda: Tracker(predict=False, recover_s=0.0),
    "now": Tracker,
}


def play(name: str, data: Path, fps: float, min_score: float) -> Played:
    settings = load_settings()
    detector = build_detector(settings, labels=("person",))
    frames, detections = [], []
    with av.open(str(data / SEQUENCES[name])) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        step = max(1.0, rate / fps)
        next_frame = 0.0
        size = (0, 0)
        for number, frame in enumerate(container.decode(stream)):
            size = (frame.width, frame.height)
            if number + 1e-6 < next_frame:
                continue
            next_frame += step
            found = detector.detect(frame.to_ndarray(format="bgr24"), min_score)
            frames.append(number + 1)
            detections.append([d for d in found if d.label == "person" and d.score >= min_score])
    return Played(name, min(fps, rate), frames, detections, size)


def truth(name: str, data: Path, size: tuple[int, int]) -> dict[int, tuple[list[int], np.ndarray]]:
    info = configparser.ConfigParser()
    info.read(data / f"{name}.seqinfo.ini")
    scale = size[0] / int(info["Sequence"]["imWidth"])
    by_frame: dict[int, tuple[list[int], list[list[float]]]] = {}
    for line in (data / f"{name}.gt.txt").read_text().splitlines():
        cells = line.split(",")
        if len(cells) < 7 or float(cells[6]) == 0:
            continue
        ids, boxes = by_frame.setdefault(int(cells[0]), ([], []))
        ids.append(int(cells[1]))
        boxes.append([float(v) * scale for v in cells[2:6]])
    return {f: (ids, np.array(boxes, float).reshape(-1, 4)) for f, (ids, boxes) in by_frame.items()}


def track(played: Played, tracker: Tracker) -> list[tuple[list[int], np.ndarray]]:
    """Per analysed frame: the ids and boxes of the confirmed tracks its detections updated."""
    out = []
    for i, found in enumerate(played.detections):
        changes = tracker.update(found, i / played.fps)
        confirmed = {t.id for t in tracker.tracks if t.confirmed}
        pairs = [(track_id, found[d].box) for d, track_id in changes.assigned.items() if track_id in confirmed]
        out.append(([p[0] for p in pairs], np.array([p[1] for p in pairs], float).reshape(-1, 4)))
    return out


def score(played: Played, gt: dict[int, tuple[list[int], np.ndarray]], output: list[tuple[list[int], np.ndarray]],
          label: str) -> dict[str, float]:  # fmt: skip
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for number, (ids, boxes) in zip(played.frames, output, strict=True):
        truth_ids, truth_boxes = gt.get(number, ([], np.zeros((0, 4))))
        overlap = iou(truth_boxes, boxes) if len(truth_ids) and len(ids) else np.zeros((len(truth_ids), len(ids)))
        distance = np.where(overlap >= MATCH_IOU, 1.0 - overlap, np.nan)
        accumulator.update(truth_ids, ids, distance)
    summary = motmetrics.metrics.create().compute(accumulator, metrics=METRICS, name=label)
    return {metric: float(summary[metric].iloc[0]) for metric in METRICS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.evaluate --tracking", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--fps", type=float, default=5.0, help="frames analysed a second (default 5)")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared footage (default ../shared/data)")
    args = parser.parse_args(argv)
    missing = [f for f in SEQUENCES.values() if not (args.data / f).is_file()]
    if missing:
        parser.error(f"footage missing in {args.data}: {', '.join(missing)}")
    min_score = AnalysisConfig().person_min_score
    print("\n".join(report(args.data, args.fps, min_score)))
    return 0


def report(data: Path, fps: float, min_score: float) -> list[str]:
    started = time.monotonic()
    lines = [f"{'sequence':12} {'tracker':18} {'MOTA':>6} {'IDF1':>6} {'ID sw':>6} {'prec':>6} {'recall':>6} "
             f"{'GT boxes':>8} {'GT ids':>6}"]  # fmt: skip
    for name in SEQUENCES:
        played = play(name, data, fps, min_score)
        gt = truth(name, data, played.size)
        for label, make in TRACKERS.items():
            m = score(played, gt, track(played, make()), label)
            lines.append(f"{name:12} {label:18} {m['mota']:6.3f} {m['idf1']:6.3f} {m['num_switches']:6.0f} "
                         f"{m['precision']:6.3f} {m['recall']:6.3f} {m['num_objects']:8.0f} "
                         f"{m['num_unique_objects']:6.0f}")  # fmt: skip
        if name == counting_sequence():
            lines += counting_report(played, gt)
    lines.append(f"(analysed at {fps:g} fps, people at score {min_score:g}; {time.monotonic() - started:.0f} s)")
    return lines


def counting_sequence() -> str:
    sequence: str = json.loads(COUNTING_LINES.read_text())["sequence"]
    return sequence


def counting_report(played: Played, gt: dict[int, tuple[list[int], np.ndarray]]) -> list[str]:
    """Each line's crossings each way: the ground truth's tracks, and each tracker's."""
    lines = [Line.model_validate(x) for x in json.loads(COUNTING_LINES.read_text())["lines"]]
    truth_counts = _count_truth(played, gt, lines)
    found = {label: _count_tracked(played, make(), lines) for label, make in TRACKERS.items()}
    out = [f"{'line':8} {'way':4} {'truth':>5} " + " ".join(f"{label:>18}" for label in TRACKERS) + "  error now"]
    for line in lines:
        for way in ("in", "out"):
            key = (line.name, way)
            counted = " ".join(f"{found[label].get(key, 0):18d}" for label in TRACKERS)
            now = found["now"].get(key, 0)
            error = (now - truth_counts.get(key, 0)) / max(truth_counts.get(key, 0), 1)
            out.append(f"{line.name:8} {way:4} {truth_counts.get(key, 0):5d} {counted}  {error:+9.1%}")
    return out


def _count(rules: Rules, seen: list[Track], ended: list[Track], size: tuple[int, int], t_s: float,
           counts: dict[tuple[str, str], int]) -> None:  # fmt: skip
    for out in rules.update(seen, ended, (float(size[0]), float(size[1])), t_s, None, t_s):
        if out.event.line is not None and out.event.direction is not None and out.event.phase.value == "start":
            key = (out.event.line, out.event.direction)
            counts[key] = counts.get(key, 0) + 1


def _count_truth(played: Played, gt: dict[int, tuple[list[int], np.ndarray]], lines: list[Line]) -> dict[
        tuple[str, str], int]:  # fmt: skip
    rules = Rules(0, [], lines)
    tracks: dict[int, Track] = {}
    counts: dict[tuple[str, str], int] = {}
    for i, number in enumerate(played.frames):
        ids, boxes = gt.get(number, ([], np.zeros((0, 4))))
        seen = []
        for track_id, box in zip(ids, boxes, strict=True):
            at = (int(box[0]), int(box[1]), int(box[2]), int(box[3]))
            track = tracks.setdefault(track_id, Track(track_id, "person", at, 0.0, 0.0, 1.0, at, confirmed=True))
            track.box = at
            seen.append(track)
        _count(rules, seen, [], played.size, i / played.fps, counts)
    return counts


def _count_tracked(played: Played, tracker: Tracker, lines: list[Line]) -> dict[tuple[str, str], int]:
    rules: Rules = Rules(0, [], lines)
    counts: dict[tuple[str, str], int] = {}
    for i, found in enumerate(played.detections):
        changes = tracker.update(found, i / played.fps)
        updated = set(changes.assigned.values())
        seen = [t for t in tracker.tracks if t.confirmed and t.id in updated]
        _count(rules, seen, changes.ended, played.size, i / played.fps, counts)
    return counts
