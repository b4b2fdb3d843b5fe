"""Tracking and counting benchmark: the tracker in multi-object-tracking metrics and the lines'
counts against the ground truth, before (IoU alone) and now.

    .venv/bin/python -m bench.tracking [--fps 5] [--no-write]

Runs `python -m analyzer.evaluate --tracking` (analyzer.evaluate_tracking: PETS09-S2L1 and
TUD-Campus analysed at --fps, people at the cameras' default score; the lines of
analyzer/data/counting_lines.json) and rewrites the tracking section of docs/benchmarks.md unless
--no-write.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per process, as workers run

import argparse

from analyzer import evaluate_tracking
from bench.common import machine, write_section
from shared.analysis import AnalysisConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    report = evaluate_tracking.report(evaluate_tracking.DATA, args.fps, AnalysisConfig().person_min_score)
    print("\n".join(report))
    if not args.no_write:
        write_section("tracking", [
            "## Tracking and counting", "",
            f"Command: `.venv/bin/python -m bench.tracking --fps {args.fps:g}` (the same as "
            f"`python -m analyzer.evaluate --tracking`). {machine()}.", "",
            "The person tracker against the ground truth of PETS09-S2L1 and TUD-Campus in motmetrics' "
            "multi-object-tracking metrics (a match at IoU 0.5), each sequence analysed at 5 fps as workers do, the "
            "same detections given to the tracker as it was (IoU alone) and as it is (a motion model, a gate by "
            "distance, a lost track recovered within 2 s). Then the three lines across PETS09-S2L1's walkways "
            "(analyzer/data/counting_lines.json) counted each way from the ground truth's tracks and from each "
            "tracker's, as workers count (analyzer.rules). Target: within 10 % of the ground truth per line and "
            "direction.", "",
            "```", *report, "```",
        ])  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
