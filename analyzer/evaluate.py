"""`python -m analyzer.evaluate VIDEO --out DIR [--gt GT_FILE]`: the detectors over a video file
(`--tamper`: the tamper detector over the tamper set, analyzer.evaluate_tamper; `--tracking`: the
tracker in multi-object-tracking metrics, analyzer.evaluate_tracking).

Writes DIR/persons.txt and DIR/faces.txt in MOTChallenge form, one box a line:
`frame,id,x,y,w,h,score,-1,-1,-1` (frames from 1, pixels of the video, ids from simple IoU
tracking). Boxes down to --min-score are written, so that AP can be computed from them.
With --gt it prints quality: a MOTChallenge ground truth (`*.gt.txt`; boxes are rescaled
from the size its `*.seqinfo.ini` gives; conf-0 boxes are ignored) gives person AP at IoU
0.5 with precision and recall at the detector's threshold; a by-eye face label file
(`*.csv`) gives face precision and recall.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import time
from pathlib import Path

import av
import numpy as np

from analyzer import evaluate_tamper, evaluate_tracking
from analyzer.detectors.build import build_detector
from analyzer.detectors.detection import Detection, Detector
from analyzer.detectors.faces import FaceDetector, faces_near_people
from analyzer.detectors.geometry import looked_at
from analyzer.detectors.motion import MotionDetector
from analyzer.pipeline import FACE_SEARCH_MIN_SCORE
from analyzer.quality import Quality, average_precision, face_quality, read_face_shots
from analyzer.regions import LookSchedule
from analyzer.tracking import Tracker
from shared.settings import load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analyzer.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("video", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gt", type=Path, help="ground truth: MOTChallenge *.gt.txt or by-eye face *.csv")
    parser.add_argument("--detectors", default="person,face", help="comma-separated: person, face")
    parser.add_argument("--min-score", type=float, default=0.02, help="lowest score written (default 0.02)")
    parser.add_argument("--person-threshold", type=float, default=0.5, help="score for precision/recall")
    parser.add_argument("--face-threshold", type=float, default=0.6, help="score for precision/recall")
    parser.add_argument("--person-model", type=Path, help="your own ONNX person detector")
    parser.add_argument(
        "--detector", choices=("ssdlite", "nanodet"),
        help="the built-in detector (default: CAMSTREAM_ANALYZER_DETECTOR's, nanodet unless set)",
    )  # fmt: skip
    parser.add_argument("--long-side", type=int, help="nanodet: the input's longer side (default 256)")
    parser.add_argument(
        "--faces-near-people", action="store_true", help="look for faces as workers do: near people only"
    )
    parser.add_argument(
        "--regions", action="store_true",
        help="look for people as workers do: where it moved, the whole frame every --full-frame-s; people not "
        "looked at keep their last box (as the worker's tracks do)",
    )  # fmt: skip
    parser.add_argument("--full-frame-s", type=float, default=2.0, help="with --regions (default 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    other = _other_evaluation(argv)
    if other is not None:
        return other
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.video.is_file():
        parser.error(f"no video file at {args.video}")
    wanted = {d.strip() for d in args.detectors.split(",") if d.strip()}
    if not wanted <= {"person", "face"}:
        parser.error(f"unknown detector(s): {', '.join(sorted(wanted - {'person', 'face'}))}")

    settings = load_settings()
    persons = (
        build_detector(settings, args.detector, args.long_side, args.person_model, labels=("person",))
        if "person" in wanted
        else None
    )
    faces = FaceDetector() if "face" in wanted else None
    found: dict[str, dict[int, np.ndarray]] = {"person": {}, "face": {}}
    trackers = {"person": Tracker(min_frames=1), "face": Tracker(min_frames=1)}
    args.out.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"person": [], "face": []}
    started = time.perf_counter()
    frames = 0
    looker = RegionLooker(persons, args.full_frame_s) if persons and args.regions else None
    with av.open(str(args.video)) as container:
        fps = float(container.streams.video[0].average_rate or 25)
        for frames, frame in enumerate(container.decode(video=0), start=1):
            image = frame.to_ndarray(format="bgr24")
            if looker is not None:
                people = looker.detect(image, frames / fps, args.min_score)
            else:
                people = persons.detect(image, args.min_score) if persons else []
            seen = {"person": people}
            if faces is not None and args.faces_near_people:
                likely = [p for p in people if p.score >= FACE_SEARCH_MIN_SCORE]  # as workers look
                seen["face"] = faces_near_people(faces, image, likely, args.min_score, everywhere=False)
            elif faces is not None:
                seen["face"] = faces.detect(image, args.min_score)
            for label, detections in seen.items():
                found[label][frames] = np.array([[*d.box, d.score] for d in detections], float).reshape(-1, 5)
                lines[label] += _mot_lines(frames, detections, trackers[label], frames)
    elapsed = time.perf_counter() - started
    if looker is not None:
        print(f"person looks: {looker.looks['full']} whole frames, {looker.looks['regions']} regions")
    for label, name in (("person", "persons.txt"), ("face", "faces.txt")):
        (args.out / name).write_text("".join(lines[label]))
    print(f"{frames} frames in {elapsed:.1f} s ({elapsed / max(frames, 1) * 1000:.1f} ms a frame); wrote {args.out}")
    if args.gt is not None:
        report(args, found, (frame.width, frame.height) if frames else (0, 0))
    return 0


def _other_evaluation(argv: list[str]) -> int | None:
    """The tamper set, or the tracker against PETS09-S2L1's and TUD-Campus's ground truth (their own options)."""
    for flag, evaluation in (("--tamper", evaluate_tamper.main), ("--tracking", evaluate_tracking.main)):
        if flag in argv:
            return evaluation([a for a in argv if a != flag])
    return None


class RegionLooker:
    """The worker's way of looking for people (analyzer.pipeline): motion first; where it moved when
    that fits in a tile, else the whole frame, and the whole frame every `full_frame_s`. People not
    looked at this time keep their last box, as the worker's tracks keep them."""

    def __init__(self, persons: Detector, full_frame_s: float) -> None:
        self.persons = persons
        self.schedule = LookSchedule(full_frame_s)
        self.motion = MotionDetector()
        self.last: list[Detection] = []
        self.looks = {"full": 0, "regions": 0}

    def detect(self, image: np.ndarray, t_s: float, min_score: float) -> list[Detection]:
        height, width = image.shape[:2]
        moved = list(self.motion.update(image, t_s).boxes)
        regions = self.schedule.regions(moved, width, height, self.persons.tiles_for(width, height), t_s)
        self.looks["full" if regions is None else "regions"] += 1
        found = self.persons.detect(image, min_score, regions)
        if regions is not None:
            found += [d for d in self.last if not looked_at(d.box, regions)]
        self.last = found
        return found


def _mot_lines(frame_no: int, detections: list[Detection], tracker: Tracker, t: float) -> list[str]:
    assigned = tracker.update(detections, float(t)).assigned
    return [
        f"{frame_no},{assigned.get(i, -1)},{d.box[0]},{d.box[1]},{d.box[2]},{d.box[3]},{d.score:.4f},-1,-1,-1\n"
        for i, d in enumerate(detections)
    ]


def report(args: argparse.Namespace, found: dict[str, dict[int, np.ndarray]], size: tuple[int, int]) -> None:
    gt: Path = args.gt
    if gt.suffix == ".csv":
        shots = read_face_shots(gt.read_text())
        kept = {f - 1: b[b[:, 4] >= args.face_threshold] for f, b in found["face"].items()}  # labels count from 0
        quality = face_quality(kept, shots)
        print(f"faces: precision {quality.precision:.3f}, recall {quality.recall:.3f} "
              f"({quality.detections} detections, {quality.ground_truth} frames with a face)")  # fmt: skip
        return
    truth, ignore = read_mot(gt, size)
    quality = average_precision(found["person"], truth, 0.5, args.person_threshold, ignore)
    print_quality("persons", quality, args.person_threshold)


def print_quality(name: str, quality: Quality, threshold: float) -> None:
    print(f"{name}: AP@0.5 {quality.ap:.3f}; at score >= {threshold}: precision {quality.precision:.3f}, "
          f"recall {quality.recall:.3f} ({quality.ground_truth} boxes)")  # fmt: skip


def read_mot(path: Path, video_size: tuple[int, int]) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Ground-truth boxes by frame, rescaled to the video, split into counted and ignored (conf 0)."""
    scale = 1.0
    info = path.with_name(path.name.removesuffix(".gt.txt") + ".seqinfo.ini")
    if info.exists() and video_size[0]:
        parser = configparser.ConfigParser()
        parser.read(info)
        scale = video_size[0] / int(parser["Sequence"]["imWidth"])
    counted: dict[int, list[list[float]]] = {}
    ignored: dict[int, list[list[float]]] = {}
    for line in path.read_text().splitlines():
        cells = line.split(",")
        if len(cells) < 7:
            continue
        target = counted if float(cells[6]) != 0 else ignored
        target.setdefault(int(cells[0]), []).append([float(v) * scale for v in cells[2:6]])
    return ({f: np.array(b) for f, b in counted.items()}, {f: np.array(b) for f, b in ignored.items()})


if __name__ == "__main__":
    sys.exit(main())
