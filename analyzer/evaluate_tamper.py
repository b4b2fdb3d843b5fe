"""`python -m analyzer.evaluate --tamper [--benign-hours H] [--tamper-s S]`: the tamper detector over
the labelled tamper set (analyzer.tamper_set, its labels in analyzer/data/tamper_set.json).

Each camera of the set is played at LOOK_EVERY_S, as a worker looks (analyzer.pipeline), one
process per camera. A tamper interval is found when a tamper event starts within `tamper_s` + 5 s
of its start (and, separately, with the right reason); any event that starts outside every tamper
interval (and its 5 s after) is a false alarm, counted per hour of footage without a tamper.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.detectors.tamper import TamperDetector, look_at
from analyzer.pipeline import TAMPER_LOOK_EVERY_S
from analyzer.tamper_set import DATA, LABELS, Camera, Episode, load_labels

FOUND_WITHIN_S = 5.0  # past tamper_s


@dataclass(frozen=True)
class CameraResult:
    name: str
    tampers: int
    found: int
    right_reason: int
    delays_s: list[float]
    missed: list[str]
    false_alarms: list[str]
    hours_untampered: float
    hours_benign: float
    look_ms: float


def evaluate_camera(name: str, labels: dict[str, object], tamper_s: float, benign_hours: float | None,
                    data: Path) -> CameraResult:  # fmt: skip
    camera = Camera(name, labels, data)
    end_s = camera.total_s if benign_hours is None else camera.tamper_part_s + benign_hours * 3600
    detector = TamperDetector(hold_s=tamper_s)
    starts: list[tuple[float, str]] = []
    costs: list[float] = []
    t_s = 0.0
    while t_s < end_s:
        frame = camera.frame(t_s)
        started = time.perf_counter()
        change = detector.judge(look_at(frame), t_s)
        costs.append(time.perf_counter() - started)
        if change.started is not None:
            starts.append((t_s, str(change.started)))
        t_s += TAMPER_LOOK_EVERY_S
    found = right = 0
    delays, missed = [], []
    for tamper in camera.tampers:
        hit = next(((t, r) for t, r in starts if tamper.start_s <= t <= tamper.start_s + tamper_s + FOUND_WITHIN_S),
                   None)  # fmt: skip
        if hit is None:
            missed.append(f"{tamper.kind} at {tamper.start_s:.0f} s {tamper.params}")
            continue
        found += 1
        right += hit[1] == tamper.kind
        delays.append(hit[0] - tamper.start_s)
    false = [f"{r} at {t:.0f} s{_during(camera.benign, t)}" for t, r in starts
             if not any(e.start_s <= t <= e.end_s + FOUND_WITHIN_S for e in camera.tampers)]  # fmt: skip
    tampered_s = sum(e.end_s - e.start_s for e in camera.tampers)
    return CameraResult(name, len(camera.tampers), found, right, delays, missed, false, (end_s - tampered_s) / 3600,
                        (end_s - camera.tamper_part_s) / 3600, statistics.median(costs) * 1000)  # fmt: skip


def _during(benign: list[Episode], t_s: float) -> str:
    around = [e.kind for e in benign if e.start_s - 15 <= t_s <= e.end_s + 15]
    return f" (during {', '.join(around)})" if around else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.evaluate --tamper", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--benign-hours", type=float, help="of benign footage per camera (default: all the labels')")
    parser.add_argument("--tamper-s", type=float, default=10.0, help="health.tamper_s (default 10)")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared footage (default ../shared/data)")
    args = parser.parse_args(argv)
    labels = load_labels(args.labels)
    names = sorted(labels["cameras"])
    missing = [labels["cameras"][n]["clip"] for n in names if not (args.data / labels["cameras"][n]["clip"]).is_file()]
    if missing:
        parser.error(f"footage missing in {args.data}: {', '.join(missing)}")
    started = time.monotonic()
    results = evaluate(labels, args.tamper_s, args.benign_hours, args.data)
    print("\n".join(report(results, args.tamper_s, time.monotonic() - started)))
    return 0


def evaluate(labels: dict[str, Any], tamper_s: float, benign_hours: float | None, data: Path) -> list[CameraResult]:
    """Every camera of the set, one process each."""
    names = sorted(labels["cameras"])
    with ProcessPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(evaluate_camera, names, [labels["cameras"][n] for n in names], [tamper_s] * len(names),
                             [benign_hours] * len(names), [data] * len(names)))  # fmt: skip


def report(results: list[CameraResult], tamper_s: float, took_s: float) -> list[str]:
    lines = [
        f"tamper set: {len(results)} cameras, health.tamper_s {tamper_s:g}, a look every {TAMPER_LOOK_EVERY_S:g} s "
        f"({took_s:.0f} s to run)",
        f"{'camera':8} {'tampers':>7} {'found':>6} {'reason':>6} {'delay s p50/max':>16} {'false':>5} "
        f"{'benign h':>8} {'look ms':>7}",
    ]  # fmt: skip
    for r in results:
        delay = f"{statistics.median(r.delays_s):.1f}/{max(r.delays_s):.1f}" if r.delays_s else "-"
        lines.append(f"{r.name:8} {r.tampers:7} {r.found:6} {r.right_reason:6} {delay:>16} {len(r.false_alarms):5} "
                     f"{r.hours_benign:8.1f} {r.look_ms:7.3f}")  # fmt: skip
        lines += [f"  missed: {line}" for line in r.missed]
        lines += [f"  false alarm: {line}" for line in r.false_alarms]
    tampers = sum(r.tampers for r in results)
    found = sum(r.found for r in results)
    false = sum(len(r.false_alarms) for r in results)
    hours = sum(r.hours_untampered for r in results)
    lines.append(f"recall {found / max(tampers, 1):.3f} ({found}/{tampers}), right reason "
                 f"{sum(r.right_reason for r in results) / max(tampers, 1):.3f}; false alarms {false} in {hours:.1f} h "
                 f"without a tamper ({false / max(hours, 1e-9) * 24:.2f} per camera per 24 h)")  # fmt: skip
    return lines
