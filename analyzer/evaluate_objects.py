"""`python -m analyzer.evaluate_objects VIDEO --gt LABELS.csv [--long-side N ...]`: NanoDet-g's
average precision per label on frames labelled by eye, at each input size asked for, side by side.

The labels file (`tests/data/bikes.objects_byeye.csv`, and its README) lists `frame,label,x,y,w,h`
for some frames of the video (0-based, its pixels); label `ignore` marks a region where a
detection of any label counts for nothing. Only the labelled frames are read; a detection of a
label in a labelled frame that matches no box of that label is a false positive.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import defaultdict
from pathlib import Path

import av
import numpy as np

from analyzer.detectors.build import build_detector
from analyzer.quality import Quality, average_precision
from shared.settings import load_settings

Boxes = dict[int, np.ndarray]


def read_labels(text: str) -> tuple[list[int], dict[str, Boxes], Boxes]:
    """(labelled frames, label -> frame -> boxes, frame -> ignored boxes)."""
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    boxes: dict[str, dict[int, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for row in csv.DictReader(io.StringIO("\n".join(rows))):
        boxes[row["label"]][int(row["frame"])].append([float(row[k]) for k in ("x", "y", "w", "h")])
    frames = sorted({frame for by_frame in boxes.values() for frame in by_frame})
    arrays = {label: {f: np.array(b, float) for f, b in by_frame.items()} for label, by_frame in boxes.items()}
    ignore = arrays.pop("ignore", {})
    return frames, arrays, ignore


def detect(video: Path, frames: list[int], long_side: int) -> dict[str, Boxes]:
    """label -> frame -> (N, 5) boxes with calibrated scores, down to 0.05, every label."""
    detector = build_detector(load_settings(), "nanodet", long_side)
    found: dict[str, Boxes] = defaultdict(dict)
    wanted = set(frames)
    with av.open(str(video)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n not in wanted:
                continue
            by_label: dict[str, list[list[float]]] = defaultdict(list)
            for d in detector.detect(frame.to_ndarray(format="bgr24"), 0.05):
                by_label[d.label].append([*d.box, d.score])
            for label, rows in by_label.items():
                found[label][n] = np.array(rows, float)
    return found


def quality(found: dict[str, Boxes], frames: list[int], truth: dict[str, Boxes], ignore: Boxes) -> dict[str, Quality]:
    """Each labelled label's AP at IoU 0.5, with precision and recall at the operating point 0.5."""
    out = {}
    for label, expected in sorted(truth.items()):
        detections = {f: found.get(label, {}).get(f, np.zeros((0, 5))) for f in frames}
        out[label] = average_precision(detections, expected, 0.5, 0.5, ignore)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analyzer.evaluate_objects", description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--gt", type=Path, required=True, help="by-eye labels: frame,label,x,y,w,h")
    parser.add_argument("--long-side", type=int, nargs="+", default=[256, 320, 416])
    args = parser.parse_args(argv)
    frames, truth, ignore = read_labels(args.gt.read_text())
    print(f"{len(frames)} labelled frames; boxes: " + ", ".join(f"{k} {sum(len(b) for b in v.values())}"
                                                             for k, v in sorted(truth.items())))  # fmt: skip
    print("| input | " + " | ".join(f"{label} AP (P, R)" for label in sorted(truth)) + " |")
    print("| --- |" + " --- |" * len(truth))
    for long_side in args.long_side:
        by_label = quality(detect(args.video, frames, long_side), frames, truth, ignore)
        cells = [f"{q.ap:.3f} ({q.precision:.2f}, {q.recall:.2f})" for q in by_label.values()]
        print(f"| NanoDet-g {long_side} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
