"""Detection quality on the shared footage, through `python -m analyzer.evaluate` as users run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import DATA, ROOT


def evaluate(video: str, gt: str, detectors: str, out: Path, *extra: str) -> str:
    if not (DATA / video).exists():
        pytest.skip(f"test footage missing: {DATA / video}")
    command = [sys.executable, "-m", "analyzer.evaluate", str(DATA / video), "--out", str(out),
               "--gt", str(DATA / gt), "--detectors", detectors, *extra]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("video", "gt"), [
    ("vtest_PETS09-S2L1_480x360.avi", "PETS09-S2L1.gt.txt"),
    ("TUD-Campus.mp4", "TUD-Campus.gt.txt"),
])  # fmt: skip
def test_person_ap_at_iou_half_is_at_least_0_70(video: str, gt: str, tmp_path: Path) -> None:
    report = evaluate(video, gt, "person", tmp_path)
    ap = float(re.search(r"AP@0.5 ([0-9.]+)", report)[1])  # type: ignore[index]
    assert ap >= 0.70, report
    first = (tmp_path / "persons.txt").read_text().splitlines()[0].split(",")
    assert first[0] == "1" and len(first) == 10 and first[7:] == ["-1", "-1", "-1"]
    assert (tmp_path / "faces.txt").read_text() == ""


@pytest.mark.parametrize("how", ["whole frames", "near people, as workers look"])
def test_face_precision_and_recall_are_at_least_0_90(how: str, tmp_path: Path) -> None:
    near_people = how.startswith("near")
    detectors, extra = ("person,face", ["--faces-near-people"]) if near_people else ("face", [])
    report = evaluate(
        "tears_of_steel_clip01_640x360.mp4", "tears_of_steel_clip01.faces_byeye.csv", detectors, tmp_path, *extra
    )
    match = re.search(r"precision ([0-9.]+), recall ([0-9.]+)", report)
    assert match, report
    assert float(match[1]) >= 0.90 and float(match[2]) >= 0.90, report
