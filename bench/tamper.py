"""Tamper benchmark: what watching a camera's view costs, and how well it finds tampers.

    .venv/bin/python -m bench.tamper [--evaluate] [--benign-hours H] [--no-write]

1. ms per look of the tamper detector (analyzer.detectors.tamper), beside the motion detector's
   per analysed frame, on PETS09-S2L1 frames as a worker holds them (JPEG decoded at about 640 px
   wide: 480x360, and a 1280x720 camera decoded to 640x360), and on a 1280x720 frame handed whole;
   medians of 400 frames, each detector in turn; per analysed frame at 5 fps (a look every 0.5 s).
2. With --evaluate, the tamper set's evaluation (`python -m analyzer.evaluate --tamper`): recall,
   right reasons and false alarms per camera per 24 h of benign footage.
It rewrites the tamper section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per process, as workers run

import argparse
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import simplejpeg

from analyzer import evaluate_tamper
from analyzer.detectors.frames import decode_for_analysis
from analyzer.detectors.motion import MotionDetector
from analyzer.detectors.tamper import TamperDetector
from analyzer.pipeline import TAMPER_LOOK_EVERY_S
from analyzer.tamper_set import CLIPS, DATA, load_labels
from analyzer.tamper_set import Camera as TamperCamera
from bench.common import machine, write_section

FRAMES = 400
ANALYSIS_FPS = 5.0


def _frames(camera: TamperCamera, size: tuple[int, int] | None) -> list[np.ndarray]:
    """Frames as a worker holds them: the camera's picture at `size`, through JPEG, decoded to ~640 px."""
    out = []
    for i in range(FRAMES):
        picture = camera.frame(i / camera.fps)
        if size is not None:
            picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        out.append(decode_for_analysis(simplejpeg.encode_jpeg(picture, 85, colorspace="BGR"), picture.shape[1]))
    return out


def _median_ms(step: Callable[[np.ndarray, float], object], frames: list[np.ndarray]) -> float:
    times = []
    for i, frame in enumerate(frames):
        started = time.perf_counter()
        step(frame, i * 0.2)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def costs(camera: TamperCamera) -> list[tuple[str, float, float]]:
    rows = []
    cases: list[tuple[str, list[np.ndarray]]] = [
        ("480x360 (decoded 480x360)", _frames(camera, None)),
        ("1280x720 (decoded 640x360)", _frames(camera, (1280, 720))),
        ("1280x720 handed whole", [cv2.resize(camera.frame(i / camera.fps), (1280, 720)) for i in range(FRAMES)]),
    ]
    for name, frames in cases:
        tamper = TamperDetector()
        motion = MotionDetector(0.002, [], [])
        tamper_ms = _median_ms(tamper.update, frames)
        motion_ms = _median_ms(motion.update, frames)
        rows.append((name, tamper_ms, motion_ms))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evaluate", action="store_true", help="run the tamper set's evaluation too (minutes)")
    parser.add_argument("--benign-hours", type=float, help="with --evaluate: benign hours per camera (all: 24)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    labels = load_labels()
    camera = TamperCamera("pets", labels["cameras"]["pets"], DATA)
    per_frame = TAMPER_LOOK_EVERY_S * ANALYSIS_FPS  # analysed frames per look
    rows = costs(camera)
    lines = [
        "## Tamper", "",
        f"Command: `.venv/bin/python -m bench.tamper{' --evaluate' if args.evaluate else ''}`. {machine()}.", "",
        f"Cost of watching a view for tampering (analyzer.detectors.tamper), medians of {FRAMES} frames of "
        f"{CLIPS['pets']} as a worker holds them, beside the motion detector's on the same frames. A worker looks "
        f"every {TAMPER_LOOK_EVERY_S:g} s at most: at {ANALYSIS_FPS:g} fps, one look per {per_frame:g} analysed "
        "frames.", "",
        "| frame | tamper, a look (ms) | tamper, per analysed frame at 5 fps (ms) | motion, per frame (ms) |",
        "| --- | --- | --- | --- |",
    ]  # fmt: skip
    for name, tamper_ms, motion_ms in rows:
        lines.append(f"| {name} | {tamper_ms:.3f} | {tamper_ms / per_frame:.3f} | {motion_ms:.3f} |")
    lines += ["", "Target: under 0.3 ms per analysed frame."]
    for line in lines[4:]:
        print(line)
    if args.evaluate:
        started = time.monotonic()
        results = evaluate_tamper.evaluate(labels, 10.0, args.benign_hours, DATA)
        hours = "" if args.benign_hours is None else f" --benign-hours {args.benign_hours:g}"
        report = evaluate_tamper.report(results, 10.0, time.monotonic() - started)
        print("\n".join(report))
        lines += [
            "",
            f"The tamper set's evaluation, `.venv/bin/python -m analyzer.evaluate --tamper{hours}` "
            "(analyzer/data/tamper_set.json; docs/health.md says what it holds):",
            "",
            "```",
            *report,
            "```",
        ]
    if not args.no_write:
        write_section("tamper", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
