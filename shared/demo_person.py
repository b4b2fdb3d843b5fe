"""The demo's real person: NASA's public-domain portrait of astronaut Eileen Collins, which
scikit-image's wheel ships (skimage/data/astronaut.png; the lock's `assets` group installs the wheel
without its dependencies). Only the file is read, the package is never imported. The demo
scenes show it (ingest/demo.py) and, on a first start with the demo cameras, the gateway enrols
it under DEMO_PERSON (gateway/faces/enrolment.py), so face recognition has someone to name."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np

DEMO_PERSON = "Eileen Collins (demo)"
PEOPLE_SCENES = ("front_door", "side_entrance")  # the demo scenes the person crosses


@functools.cache
def portrait() -> np.ndarray | None:
    """The portrait (512x512 BGR), or None when scikit-image's files are not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
    return cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
