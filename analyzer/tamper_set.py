"""The labelled tamper set: real footage (../shared/data) played as cameras, with tampers applied to
its frames over labelled intervals and long stretches of benign change (docs/health.md).

Each camera plays its clip forwards and back for its whole timeline. First comes the tamper part:
TAMPERS_PER_KIND intervals of each kind in a shuffled order, each TAMPER_S long with CLEAN_S of the
plain view between; then the benign part, hours of the same footage. Over both run the benign
changes: dusk and dawn (gain down to a quarter and back, white balance drifting, sensor noise
rising in the dark), headlights sweeping across, rain, and people passing close to the lens.

The labels (`analyzer/data/tamper_set.json`) are written by `python -m analyzer.tamper_set` from a
seed and committed; frames are rendered from them on demand (`Camera.frame(t_s)`), so no video is
stored. `--video` writes one camera's stretch as an H.264 file (the tests' tamper camera).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

LABELS = Path(__file__).parent / "data" / "tamper_set.json"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLIPS = {"pets": "vtest_PETS09-S2L1_480x360.avi", "campus": "TUD-Campus.mp4"}
KINDS = ("covered", "defocused", "moved", "blinded")
TAMPERS_PER_KIND = 10
TAMPER_S = 30.0
CLEAN_S = 90.0
SEED = 29


@dataclass(frozen=True)
class Episode:
    kind: str
    start_s: float
    end_s: float
    params: dict[str, float]

    def covers(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


def make_labels(benign_hours: float, seed: int = SEED) -> dict[str, Any]:
    rng = random.Random(seed)
    cameras = {}
    for name, clip in CLIPS.items():
        tampers, t = [], CLEAN_S
        kinds = [k for k in KINDS for _ in range(TAMPERS_PER_KIND)]
        rng.shuffle(kinds)
        for kind in kinds:
            tampers.append(_episode(kind, t, t + TAMPER_S, _tamper_params(kind, rng)))
            t += TAMPER_S + CLEAN_S
        tamper_part_s = t
        total_s = tamper_part_s + benign_hours * 3600
        cameras[name] = {
            "clip": clip, "tamper_part_s": tamper_part_s, "total_s": total_s, "tampers": tampers,
            "benign": _benign(total_s, rng),
        }  # fmt: skip
    return {"seed": seed, "tamper_s": TAMPER_S, "clean_s": CLEAN_S, "cameras": cameras}


def _episode(kind: str, start_s: float, end_s: float, params: dict[str, float]) -> dict[str, Any]:
    return {"kind": kind, "start_s": round(start_s, 2), "end_s": round(end_s, 2),
            "params": {k: round(v, 3) for k, v in params.items()}}  # fmt: skip


def _tamper_params(kind: str, rng: random.Random) -> dict[str, float]:
    if kind == "covered":  # a hand: share of the view, its tone, where it comes from
        return {"share": rng.uniform(0.6, 1.0), "tone": rng.uniform(0.25, 1.0), "side": rng.random()}
    if kind == "defocused":  # sprayed or fogged: blur and veil
        return {"sigma": rng.uniform(6, 12), "veil": rng.uniform(0.3, 0.6)}
    if kind == "moved":  # turned on its mount: a rotation and a shift with it
        angle = rng.uniform(10, 45)
        return {"angle": angle * rng.choice((-1, 1)), "shift": angle / 90 * rng.choice((-1, 1))}
    return {"x": rng.uniform(0.3, 0.7), "y": rng.uniform(0.3, 0.7), "radius": rng.uniform(0.35, 0.8),
            "exposure": rng.uniform(0.3, 0.6)}  # fmt: skip


def _benign(total_s: float, rng: random.Random) -> list[dict[str, Any]]:
    """Dusk/dawn cycles over the whole timeline, and Poisson episodes of the rest."""
    out, t = [], rng.uniform(0, 1800)
    while t < total_s:  # a dusk: down over 10-30 min, dark for 10-60 min, up over 10-30 min
        down, dark, up = rng.uniform(600, 1800), rng.uniform(600, 3600), rng.uniform(600, 1800)
        out.append(_episode("dusk", t, t + down + dark + up, {
            "down": down, "dark": dark, "gain": rng.uniform(0.25, 0.45), "red": rng.uniform(0.8, 1.25),
            "blue": rng.uniform(0.8, 1.25)}))  # fmt: skip
        t += down + dark + up + rng.uniform(1800, 7200)
    for kind, per_hour, low, high in (("headlights", 6, 2, 5), ("passer", 4, 1.5, 4), ("rain", 0.3, 600, 1800)):
        t = rng.expovariate(per_hour / 3600)
        while t < total_s:
            length = rng.uniform(low, high)
            params = {"y": rng.uniform(0.3, 0.8), "size": rng.uniform(0.15, 0.35), "direction": rng.choice((-1, 1))}
            if kind == "passer":
                params["size"] = rng.uniform(0.2, 0.5)
            if kind == "rain":
                params = {"strength": rng.uniform(0.5, 1.0)}
            out.append(_episode(kind, t, t + length, params))
            t += length + rng.expovariate(per_hour / 3600)
    return sorted(out, key=lambda e: e["start_s"])


class Camera:
    """One camera of the set: its clip, its labels, and its frame at any time."""

    def __init__(self, name: str, labels: dict[str, Any], data: Path = DATA) -> None:
        self.name = name
        self.labels = labels
        self.tampers = [Episode(**e) for e in labels["tampers"]]
        self.benign = [Episode(**e) for e in labels["benign"]]
        self.tamper_part_s: float = labels["tamper_part_s"]
        self.total_s: float = labels["total_s"]
        self.frames, self.fps = _read(data / labels["clip"])
        height, width = self.frames[0].shape[:2]
        self.size = (width, height)
        self._rain = [_rain_layer(width, height, np.random.default_rng(i)) for i in range(8)]
        self._yy, self._xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def tamper_at(self, t_s: float) -> Episode | None:
        return next((e for e in self.tampers if e.covers(t_s)), None)

    def frame(self, t_s: float) -> np.ndarray:
        """The camera's BGR frame at t_s: the clip forwards and back, the benign changes, any tamper."""
        count = len(self.frames)
        position = int(t_s * self.fps) % (2 * count - 2)
        image = self.frames[position if position < count else 2 * count - 2 - position].astype(np.float32)
        for episode in self.benign:
            if episode.start_s > t_s:
                break
            if episode.covers(t_s):
                image = self._benign(image, episode, t_s)
        tamper = self.tamper_at(t_s)
        if tamper is not None:
            image = self._tamper(image, tamper, t_s)
        return np.clip(image, 0, 255).astype(np.uint8)

    def _benign(self, image: np.ndarray, episode: Episode, t_s: float) -> np.ndarray:
        p, into = episode.params, t_s - episode.start_s
        height, width = image.shape[:2]
        if episode.kind == "dusk":
            length = episode.end_s - episode.start_s
            up_s = length - p["down"] - p["dark"]
            depth = min(into / p["down"], 1.0, (length - into) / up_s)  # 0 day .. 1 darkest
            gain = 1.0 - depth * (1.0 - p["gain"])
            balance = np.array([1 + depth * (p["blue"] - 1), 1.0, 1 + depth * (p["red"] - 1)], np.float32)
            noise = self._rain[int(t_s * 7) % len(self._rain)][..., None] * (depth * 0.15)  # sensor noise in the dark
            return _f32(image * (gain * balance) + noise)
        progress = into / (episode.end_s - episode.start_s)
        if episode.kind == "rain":
            layer = self._rain[int(t_s * 10) % len(self._rain)]
            return image * 0.92 + 12 + layer[..., None] * p["strength"]
        x = (progress if p["direction"] > 0 else 1 - progress) * 1.6 - 0.3
        radius = p["size"] * width
        distance = ((self._xx - x * width) ** 2 + (self._yy - p["y"] * height) ** 2) / radius**2
        if episode.kind == "headlights":
            glow = np.exp(-distance * 2.0) * 320.0
            return _f32(image + glow[..., None])
        # a person close to the lens: a dark, out-of-focus shape, tall as the picture
        tall = ((self._xx - x * width) / radius) ** 2 + ((self._yy - height * 0.7) / (height * 0.9)) ** 2
        alpha = np.clip(1.4 - tall, 0, 1)[..., None]
        return _f32(image * (1 - alpha) + 40 * alpha)

    def _tamper(self, image: np.ndarray, episode: Episode, t_s: float) -> np.ndarray:
        p = episode.params
        onset = min((t_s - episode.start_s) / 0.8, 1.0)  # a hand, a torch, a turn take a moment
        height, width = image.shape[:2]
        if episode.kind == "covered":
            tone = np.array([90, 125, 175], np.float32) * p["tone"]
            reach = max(p["share"] * onset, 0.05)
            side = -0.2 if p["side"] < 0.5 else 1.2
            palm = ((self._xx / width - side) / (reach * 1.3)) ** 2 + ((self._yy / height - 0.5) / 1.2) ** 2
            hand = (palm < 1.0).astype(np.float32) if reach < 1.0 else np.ones_like(palm)
            for finger in range(4):  # fingers reach further across the view
                fy = 0.2 + finger * 0.2
                along = ((self._xx / width - side) / (reach * 1.55)) ** 2 + ((self._yy / height - fy) / 0.07) ** 2
                hand = np.maximum(hand, (along < 1.0).astype(np.float32))
            hand = cv2.GaussianBlur(hand, (0, 0), width * 0.03)[..., None]  # out of focus, this close
            shading = (0.85 + 0.15 * self._yy / height)[..., None]
            return _f32(image * (1 - hand) + tone * shading * hand)
        if episode.kind == "defocused":
            blurred = cv2.GaussianBlur(image, (0, 0), p["sigma"] * width / 640 * onset + 0.1)
            return blurred * (1 - p["veil"] * onset) + 215 * p["veil"] * onset
        if episode.kind == "moved":
            turn = cv2.getRotationMatrix2D((width / 2, height / 2), p["angle"] * onset, 1.0)
            turn[0, 2] += p["shift"] * width * onset
            return cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
        distance = ((self._xx - p["x"] * width) ** 2 + (self._yy - p["y"] * height) ** 2) / (p["radius"] * width) ** 2
        glare = np.clip(1.6 - distance, 0, None) * 400 * onset
        exposure = 1 - (1 - p["exposure"]) * onset
        return _f32(image * exposure + glare[..., None])


def _f32(image: Any) -> np.ndarray:
    return np.asarray(image, np.float32)


def _rain_layer(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0, 6, (height, width)).astype(np.float32)
    streaks = np.zeros((height, width), np.float32)
    for _ in range(width * height // 800):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.line(streaks, (x, y), (x + 3, y + 18), 60.0, 1)
    return noise + cv2.GaussianBlur(streaks, (0, 0), 0.8)


def _read(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    return frames, fps


def load_labels(path: Path = LABELS) -> dict[str, Any]:
    labels: dict[str, Any] = json.loads(path.read_text())
    return labels


def write_video(camera: Camera, start_s: float, end_s: float, path: Path, fps: float = 10.0) -> Path:
    """The camera's frames from start_s to end_s as an H.264 file (a file camera for tests)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = *camera.size, "yuv420p"
        stream.options = {"g": str(int(fps)), "preset": "veryfast"}
        for i in range(math.ceil((end_s - start_s) * fps)):
            frame = av.VideoFrame.from_ndarray(camera.frame(start_s + i / fps), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.tamper_set", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--benign-hours", type=float, default=24.0, help="of benign footage per camera (24)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=LABELS)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(make_labels(args.benign_hours, args.seed), indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
