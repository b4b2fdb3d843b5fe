"""A synthetic camera scene: a still yard, someone who crosses it and leaves, a clock.

The crossing gives the analyzer real motion with a start and an end (about 8 s, then the
scene is still for about 6 s); the clock changes a few pixels every second, below any sensible
motion threshold. Each scene name gets its own layout and timing. In the front door's and the
side entrance's scenes the one crossing is a real person (shared.demo_person), so the person
and face detectors and face recognition have something to find. In the others, or without that
file, a drawn figure walks across (motion only: no detector takes it for a person).
"""

from __future__ import annotations

import time
import zlib

import cv2
import numpy as np

from shared.demo_person import PEOPLE_SCENES, portrait

WALK_S = 8.0
IDLE_S = 6.0


class DemoScene:
    def __init__(self, name: str, width: int, height: int) -> None:
        self.name = name
        self.width = width
        self.height = height
        self._seed = zlib.crc32(name.encode())
        rng = np.random.default_rng(self._seed)
        self._background = _background(rng, width, height)
        self._phase_s = float(rng.uniform(0, WALK_S + IDLE_S))
        self._colour = tuple(int(c) for c in rng.integers(40, 200, 3))
        self._frame = np.empty_like(self._background)
        self._person = _sized(portrait(), height) if name in PEOPLE_SCENES else None

    def render(self, t_s: float, wall_time_s: float | None = None) -> np.ndarray:
        """The scene at media time t_s, as a BGR image (reused between calls)."""
        frame = self._frame
        np.copyto(frame, self._background)
        cycle = (t_s + self._phase_s) % (WALK_S + IDLE_S)
        if cycle < WALK_S and self._person is not None:
            self._draw_person(frame, cycle / WALK_S)
        elif cycle < WALK_S:
            self._draw_walker(frame, cycle / WALK_S)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_time_s or time.time()))
        scale = self.height / 720
        origin = (int(20 * scale), int(50 * scale))
        white, thickness = (255, 255, 255), max(1, int(2 * scale))
        cv2.putText(frame, f"{self.name}  {stamp}", origin, cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, white, thickness)
        return frame

    def _draw_person(self, frame: np.ndarray, progress: float) -> None:
        """The portrait crossing the frame at a walking pace, with a slight bob."""
        assert self._person is not None
        ph, pw = self._person.shape[:2]
        x = int(-0.1 * self.width + progress * (1.2 * self.width - pw))
        if self._seed % 2:
            x = self.width - pw - x
        y = int(self.height * 0.9) - ph + int(np.sin(progress * 40) * ph * 0.02)
        x1, y1 = max(0, x), max(0, y)
        x2, y2 = min(self.width, x + pw), min(self.height, y + ph)
        if x2 > x1 and y2 > y1:
            frame[y1:y2, x1:x2] = self._person[y1 - y : y2 - y, x1 - x : x2 - x]

    def _draw_walker(self, frame: np.ndarray, progress: float) -> None:
        h, w = self.height, self.width
        body_h = int(h * 0.45)
        x = int(-0.1 * w + progress * 1.2 * w)
        if self._seed % 2:  # half the scenes walk right to left
            x = w - x
        feet_y = int(h * 0.9)
        head_r = body_h // 9
        stride = int(np.sin(progress * 40) * body_h * 0.12)
        torso_top = feet_y - body_h + 2 * head_r
        hips = feet_y - body_h // 2
        thick = max(2, body_h // 12)
        colour = self._colour
        cv2.circle(frame, (x, feet_y - body_h + head_r), head_r, (150, 180, 220), -1, cv2.LINE_AA)
        cv2.line(frame, (x, torso_top), (x, hips), colour, thick * 2, cv2.LINE_AA)
        cv2.line(frame, (x, hips), (x + stride, feet_y), (60, 50, 40), thick, cv2.LINE_AA)
        cv2.line(frame, (x, hips), (x - stride, feet_y), (60, 50, 40), thick, cv2.LINE_AA)
        cv2.line(frame, (x, torso_top + thick), (x - stride, hips), colour, thick, cv2.LINE_AA)
        cv2.line(frame, (x, torso_top + thick), (x + stride, hips), colour, thick, cv2.LINE_AA)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    sky = np.array(rng.integers(150, 230, 3), dtype=np.float32)
    ground = np.array(rng.integers(40, 120, 3), dtype=np.float32)
    horizon = int(height * rng.uniform(0.35, 0.55))
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    column = np.where(np.arange(height)[:, None] < horizon, sky * (1 - 0.3 * ramp), ground * (0.7 + 0.3 * ramp))
    image = np.repeat(column[:, None, :], width, axis=1).astype(np.uint8)
    for _ in range(6):  # buildings and trees: still edges for the motion detector to ignore
        x0 = int(rng.uniform(0, width))
        bw, bh = int(rng.uniform(0.05, 0.2) * width), int(rng.uniform(0.1, 0.35) * height)
        colour = tuple(int(c) for c in rng.integers(30, 200, 3))
        cv2.rectangle(image, (x0, horizon - bh), (x0 + bw, horizon), colour, -1)
    texture = rng.integers(0, 12, (height, width, 1), dtype=np.uint8)
    return cv2.add(image, np.repeat(texture, 3, axis=2))


def _sized(image: np.ndarray | None, height: int) -> np.ndarray | None:
    """The portrait at about half the frame's height (a person a few metres from the camera)."""
    if image is None:
        return None
    side = max(16, int(height * 0.5))
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
