"""Analyzer benchmark: stage costs, analysed frames per core, event latency.

    .venv/bin/python -m bench.analyzer [--seconds 40] [--no-write]

1. ms per analysed frame for each stage (JPEG decode to ~640 px, motion, person, face) at
   640x360 and 1280x720, on frames of the Tears of Steel clip (medians of 60 frames);
2. analysed frames per second per core of a whole camera pipeline (decode included) on a
   still scene, a busy one (PETS: people everywhere, always moving) and a mixed one
   (alternating 5 s still, 5 s busy), from CPU time at 5 fps of media time;
3. event latency, capture of the frame that triggered an event to its publication, with
   4 file cameras (2 PETS, 2 TUD-Campus) analysed at 5 fps by 1 and by 2 worker processes.
It rewrites the analyzer section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import os

# One thread per process, as workers run: set before OpenCV and onnxruntime start their threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import redis
import simplejpeg

from analyzer.detectors import runtime
from analyzer.detectors.build import build_detector
from analyzer.detectors.detection import Detector
from analyzer.detectors.faces import FaceDetector
from analyzer.detectors.frames import decode_for_analysis
from analyzer.detectors.model_fetch import FetchError
from analyzer.detectors.motion import MotionDetector
from analyzer.detectors.persons import PersonDetector
from analyzer.detectors.recognition import FaceEmbedder
from analyzer.pipeline import CameraAnalysis
from bench.common import gateway_env, machine, write_section
from shared import keys
from shared.analysis import AnalysisConfig
from shared.detections import Event, EventPhase
from shared.embedded_redis import EmbeddedRedis
from shared.settings import load_settings
from tests.support import DATA, ServiceRun, read_detections, wait_until, write_camera_file

ROUNDS = 3
OPENVINO_PATH = "new on OpenVINO"
NANODET_PATH = "new, NanoDet-g"


def frames(name: str, limit: int, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    with av.open(str(DATA / name)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= limit:
                return
            image = frame.to_ndarray(format="bgr24")
            yield cv2.resize(image, size) if size else image


def stage_costs(
    persons: Detector, faces: FaceDetector, sizes: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720))
) -> dict[str, dict[str, float]]:
    embedder = FaceEmbedder()
    results = {}
    for size in sizes:
        jpegs = [
            simplejpeg.encode_jpeg(f, 80, colorspace="BGR")
            for f in frames("tears_of_steel_clip01_640x360.mp4", 240, size)
        ][60:120]
        motion = MotionDetector()
        times: dict[str, list[float]] = {"decode": [], "motion": [], "person": [], "face": [], "recognition": []}
        for i, jpeg in enumerate(jpegs):
            t0 = time.perf_counter()
            image = decode_for_analysis(jpeg, size[0])
            t1 = time.perf_counter()
            motion.update(image, i / 5)
            t2 = time.perf_counter()
            persons.detect(image)
            t3 = time.perf_counter()
            found = faces.detect(image)
            t4 = time.perf_counter()
            for stage, ms in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=False):
                times[stage].append(ms * 1000)
            for face in found:  # recognition: per face
                t5 = time.perf_counter()
                embedder.embed(image, face)
                times["recognition"].append((time.perf_counter() - t5) * 1000)
        results[f"{size[0]}x{size[1]}"] = {k: statistics.median(v) for k, v in times.items()}
    return results


def input_sizes(detector: Detector, sides: tuple[int, ...] = (256, 320, 416)) -> dict[int, float]:
    """NanoDet's ms per 640x360 frame at each input's longer side (what a camera's
    `analysis.detect_long_side` costs): medians of 60 frames of the Tears of Steel clip, the sizes
    in turn on each frame so that the machine's noise falls on all alike."""
    images = list(frames("tears_of_steel_clip01_640x360.mp4", 120))[60:120]
    times: dict[int, list[float]] = {side: [] for side in sides}
    for side in sides:
        detector.detect(images[0], long_side=side)  # the conversion and session, once
    for image in images:
        for side in sides:
            started = time.perf_counter()
            detector.detect(image, long_side=side)
            times[side].append((time.perf_counter() - started) * 1000)
    return {side: statistics.median(values) for side, values in times.items()}


def frames_per_core(persons: Detector, faces: FaceDetector, old: bool) -> dict[str, float]:
    """The old path: the whole frame's tiles in one call each on every look, faces in the whole frame
    when nobody was found. The new: where it moved (whole frame every 2 s), tiles batched, faces only
    near people."""
    busy = [
        simplejpeg.encode_jpeg(f, 80, colorspace="BGR")
        for f in frames("vtest_PETS09-S2L1_480x360.avi", 300, (640, 360))
    ]
    still = [busy[0]] * len(busy)
    scenes = {
        "still": still,
        "busy": busy,
        "mixed": [(still if (i // 25) % 2 == 0 else busy)[i] for i in range(len(busy))],  # 5 s still, 5 s busy at 5 fps
    }
    config = AnalysisConfig(face_everywhere=old)
    results = {}
    for name, jpegs in scenes.items():
        pipeline = CameraAnalysis(1, config, persons, faces, idle_detect_s=5.0, full_frame_s=0.0 if old else 2.0)
        start = time.process_time()
        for i, jpeg in enumerate(jpegs):
            image = decode_for_analysis(jpeg, 640)
            pipeline.analyse(image, 1.0, i / 5, jpeg, time.time())
        results[name] = len(jpegs) / (time.process_time() - start)
    return results


def demo_cpu(seconds: float, path: str) -> float:
    """% of a core the analyzer worker uses on the run command's four demo cameras (ingest and the
    worker as real processes; CPU time from /proc over `seconds` after a warm-up)."""
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        env = gateway_env(Path(folder))
        if path == "old":
            env["CAMSTREAM_ANALYZER_FULL_FRAME_S"] = "0"
        env["CAMSTREAM_ANALYZER_PROVIDER"] = runtime.OPENVINO if path == OPENVINO_PATH else runtime.CPU
        env["CAMSTREAM_ANALYZER_DETECTOR"] = "nanodet" if path == NANODET_PATH else "ssdlite"
        runs = [ServiceRun("ingest", server.url, None, Path(folder) / "ingest.log", env=env)]
        worker = ServiceRun("analyzer", server.url, None, Path(folder) / "analyzer.log", env=env)
        runs.append(worker)
        client = redis.Redis.from_url(server.url)
        try:
            wait_until(lambda: all(client.xlen(keys.detections_stream(i)) for i in range(1, 5)), 240.0)
            time.sleep(5.0)
            before, started = _cpu_s(worker.pid), time.monotonic()
            time.sleep(seconds)
            return 100.0 * (_cpu_s(worker.pid) - before) / (time.monotonic() - started)
        finally:
            for run in runs:
                run.stop()
            client.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event_latency(workers: int, seconds: float) -> dict[str, float]:
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        cameras = write_camera_file(Path(folder), [
            {"id": i, "name": f"bench {i}", "source": str(DATA / clip), "fps": 10, "analysis": {"fps": 5}}
            for i, clip in enumerate(["vtest_PETS09-S2L1_480x360.avi", "TUD-Campus.mp4"] * 2, start=1)
        ])  # fmt: skip
        env = {**gateway_env(Path(folder)), "CAMSTREAM_DETECTIONS_STREAM_LEN": "100000"}
        runs = [ServiceRun("ingest", server.url, cameras, Path(folder) / "ingest.log", env=env)]
        runs += [
            ServiceRun("analyzer", server.url, cameras, Path(folder) / f"an{i}.log", env=env) for i in range(workers)
        ]
        client = redis.Redis.from_url(server.url)
        live = client.pubsub()
        live.subscribe(keys.EVENTS_CHANNEL)
        try:
            wait_until(lambda: all(client.xlen(keys.detections_stream(i)) for i in range(1, 5)), 60.0)
            events: list[Event] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                message = live.get_message(timeout=0.5)
                if message and message["type"] == "message":
                    events.append(Event.decode(message["data"]))
            history = {i: read_detections(client, i) for i in range(1, 5)}
        finally:
            for run in runs:
                run.stop()
            client.close()
    latencies = []
    for event in events:
        if event.phase is not EventPhase.START:
            continue
        analysed = [d for d in history[event.camera_id] if d.analysed_at_s <= event.published_at_s]
        if analysed:
            latencies.append((event.published_at_s - analysed[-1].captured_at_s) * 1000)
    lags = [(d.analysed_at_s - d.captured_at_s) * 1000 for h in history.values() for d in h]
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    return {
        "events": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": cuts[18],
        "lag_p50": statistics.median(lags),
        "lag_p95": statistics.quantiles(lags, n=20)[18],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40.0, help="event collection time per worker count")
    parser.add_argument("--demo-seconds", type=float, default=30.0, help="CPU sampling time on the demo cameras")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    persons = PersonDetector(settings.model_cache_dir, provider=runtime.CPU)
    one_call_each = PersonDetector(settings.model_cache_dir, provider=runtime.CPU, batched=False)
    faces = FaceDetector()
    # The optional OpenVINO runtime (the `openvino` extra), at the CPU's own precision: a third path.
    openvino = (
        PersonDetector(settings.model_cache_dir, provider=runtime.OPENVINO) if runtime.openvino_present() else None
    )
    paths: dict[str, Detector] = {"old": one_call_each, "new": persons}
    paths |= {OPENVINO_PATH: openvino} if openvino else {}
    try:  # NanoDet-g (CAMSTREAM_ANALYZER_DETECTOR=nanodet), the whole frame at 256 px
        paths[NANODET_PATH] = build_detector(settings, "nanodet", provider=runtime.CPU)
    except FetchError as e:
        print(f"no NanoDet path: {e}", flush=True)

    stages = stage_costs(persons, faces)
    if openvino:
        stages[f"640x360, {OPENVINO_PATH}"] = stage_costs(openvino, faces, sizes=((640, 360),))["640x360"]
    if NANODET_PATH in paths:
        stages[f"640x360, {NANODET_PATH}"] = stage_costs(paths[NANODET_PATH], faces, sizes=((640, 360),))["640x360"]
    for size, cost in stages.items():
        print(f"{size}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in cost.items()), flush=True)
    sizes = input_sizes(paths[NANODET_PATH]) if NANODET_PATH in paths else {}
    if sizes:
        print("NanoDet-g, ms a 640x360 frame by input: " + ", ".join(f"{k} px {v:.1f}" for k, v in sizes.items()))
    # The machine is shared and noisy: old and new in turn, ROUNDS rounds, medians.
    rounds: dict[str, list[dict[str, float]]] = {path: [] for path in paths}
    for _ in range(ROUNDS):
        for path, detector in paths.items():
            rounds[path].append(frames_per_core(detector, faces, old=path == "old"))
    per_core = {
        path: {scene: statistics.median(r[scene] for r in runs) for scene in runs[0]} for path, runs in rounds.items()
    }
    for path, figures in per_core.items():
        text = ", ".join(f"{k} {v:.0f}" for k, v in figures.items())
        print(f"analysed frames per second per core, {path} path (median of {ROUNDS}): {text}", flush=True)
    samples: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(2):
        for path in paths:
            samples[path].append(demo_cpu(args.demo_seconds, path))
    demo = {path: statistics.median(values) for path, values in samples.items()}
    print("demo (4 cameras), analyzer CPU: " + ", ".join(f"{k} {v:.0f} %" for k, v in demo.items()), flush=True)
    latency = {n: event_latency(n, args.seconds) for n in (1, 2)}
    for n, lat in latency.items():
        latency_text = f"latency p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms"
        lag_text = f"frame lag p50 {lat['lag_p50']:.0f} ms p95 {lat['lag_p95']:.0f} ms"
        print(f"{n} worker(s), 4 cameras at 5 fps: {lat['events']:.0f} events, {latency_text}; {lag_text}", flush=True)

    if not args.no_write:
        write_section("analyzer", [
            "## Analyzer",
            "",
            f"Command: `.venv/bin/python -m bench.analyzer --seconds {args.seconds:g} "
            f"--demo-seconds {args.demo_seconds:g}` (or `make bench`). {machine()}; "
            f"one thread per process, person detector on onnxruntime's {persons.provider}"
            + (f" (and, as a third path, on {openvino.provider} at the CPU's precision)." if openvino else "."),
            "",
            "Cost per analysed frame, medians of 60 frames of the Tears of Steel clip (people and faces); "
            "person: SSDLite's two tiles, or NanoDet-g's one pass over the whole frame (256x160). "
            "Frames are decoded from JPEG at about 640 px wide whatever their size, so the detectors' cost "
            "hardly depends on the camera's resolution.",
            "",
            "| frame | JPEG decode (ms) | motion (ms) | person (ms) | face, whole frame (ms) "
            "| recognition, a face (ms) |",
            "| --- | --- | --- | --- | --- | --- |",
            *[f"| {s} | {c['decode']:.1f} | {c['motion']:.1f} | {c['person']:.1f} | {c['face']:.1f} "
              f"| {c['recognition']:.1f} |" for s, c in stages.items()],
            "",
            *([
                "NanoDet-g by input size (`analysis.detect_long_side`; the longer side in pixels, a 640x360 frame "
                "read at 256x160, 320x192, 416x256), ms a frame, medians of 60 frames, the sizes in turn on each; "
                "AP per label on the street clip by size: docs/analyzer.md.",
                "",
                "| input | " + " | ".join(f"{side} px" for side in sizes) + " |",
                "| --- |" + " --- |" * len(sizes),
                "| ms a frame | " + " | ".join(f"{ms:.1f}" for ms in sizes.values()) + " |",
                "| relative to 256 px | " + " | ".join(f"{ms / sizes[256]:.2f}x" for ms in sizes.values()) + " |",
                "",
            ] if sizes else []),
            "Analysed frames per second per core, whole pipeline with JPEG decode, from CPU time. Person and "
            "face detection run while there is motion (and 3 s after), and every 5 s otherwise. Still: one "
            "unchanging frame; busy: PETS09-S2L1 at 640x360 (up to 8 people, always moving); mixed: 5 s still "
            "and 5 s busy in turn.",
            "",
            f"Medians of {ROUNDS} runs of each, old and new in turn.",
            "",
            "| path | still | busy | mixed |",
            "| --- | --- | --- | --- |",
            *[f"| {path} | {f['still']:.0f} | {f['busy']:.0f} | {f['mixed']:.0f} |" for path, f in per_core.items()],
            "",
            "Old: the whole frame's two tiles in one model call each on every look, faces in the whole frame "
            "when nobody was found. New: people looked for where it moved when that fits one tile (the whole "
            "frame every 2 s), a frame's tiles in one batched call, faces near people only."
            + (f" {OPENVINO_PATH}: the new path with the person model on the OpenVINO runtime "
               "(`CAMSTREAM_ANALYZER_PROVIDER=OpenVINO`, the `openvino` extra), which computes in bfloat16 "
               "on CPUs that have it (docs/analyzer.md)." if openvino else "")
            + (f" {NANODET_PATH}: the new path with NanoDet-g (the default since issue 24) over the whole frame "
               "at 256x160 in place of SSDLite, every COCO label decoded (each camera's rules pick)."
               if NANODET_PATH in paths else ""),
            "",
            f"The run command's demo (four demo cameras, one worker): the analyzer worker's CPU over "
            f"{args.demo_seconds:g} s (mean of 2 runs of each, in turn), old path "
            f"(CAMSTREAM_ANALYZER_FULL_FRAME_S=0, whole frames) "
            f"{demo['old']:.0f} % of a core, new {demo['new']:.0f} %"
            + (f", {OPENVINO_PATH} {demo[OPENVINO_PATH]:.0f} %" if openvino else "")
            + (f", {NANODET_PATH} {demo[NANODET_PATH]:.0f} %." if NANODET_PATH in demo else "."),
            "",
            "Event latency: from the capture time of the frame whose analysis published an event (start "
            "messages) to its publication, with ingest and workers as real processes; 4 file cameras "
            "(2 x PETS09-S2L1, 2 x TUD-Campus) at 10 fps, analysed at 5 fps. Frame lag: capture to the end of "
            "its analysis, over every analysed frame.",
            "",
            "| workers | events | latency p50 (ms) | latency p95 (ms) | frame lag p50 (ms) | frame lag p95 (ms) |",
            "| --- | --- | --- | --- | --- | --- |",
            *[f"| {n} | {lat['events']:.0f} | {lat['p50']:.0f} | {lat['p95']:.0f} | {lat['lag_p50']:.0f} "
              f"| {lat['lag_p95']:.0f} |" for n, lat in latency.items()],
            "",
            "Targets: event latency p95 at most 300 ms; at least 25 analysed frames per second per core on a "
            "mixed scene.",
        ])  # fmt: skip
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
