"""Scale benchmark: the whole job for N cameras on this machine, beside FFmpeg doing ingest's part.

    .venv/bin/python -m bench.scale [--cameras 4,8,16,24] [--warmup 60] [--seconds 180] [--workers 1]
                                    [--no-ffmpeg] [--no-write]

Each camera is a 1920x1080@15 H.264 main stream (~4 Mbit/s: relayed to viewers, recorded by
stream copy) and a 640x360@15 sub stream (its `detect_source`, decoded for analysis), both real
footage pre-encoded once (bench/clips.py) and looped by GStreamer's RTSP server without
re-encoding (bench/rtsp_clips.py). For each N: camstream (ingest, the analyzer's workers, the
recorder, the gateway; every camera recording continuously and analysed at its default rate; four
watched over WebRTC by viewers that count frames without decoding), then FFmpeg doing ingest's
part the way Frigate does (`-c copy -f segment` for the main stream, `-vf fps=5 -f rawvideo` for
the sub stream), each for `--seconds` after `--warmup`. Printed: CPU per process kind, each
camera's main-stream frame rate against 15, its analysis rate against 5, bytes recorded against
the source's, stalls (a second with no frame), ERROR lines, and how the whole system stopped on
SIGTERM under that load; then the largest N that holds (every camera >= 14.5 fps, analysis >= 90 %
of its rate, no stall, no error, a clean stop) and ingest's CPU per camera against FFmpeg's. It
rewrites the scale section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import clips
from bench.common import cpu_seconds, machine, write_section
from bench.scale_run import CamstreamRun, Sample

ROOT = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = Path(__file__).with_name("rtsp_clips.py")
WATCHED = 4
HOLD_FPS = 14.5
HOLD_ANALYSIS = 0.9


class ClipServer:
    """GStreamer's RTSP server looping the clips at /main and /sub (Debian's python: its bindings)."""

    def __init__(self) -> None:
        from shared.embedded_redis import free_port  # noqa: PLC0415

        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        self.process = subprocess.Popen(
            ["/usr/bin/python3", str(SERVER_SCRIPT), "--port", str(self.port), "--fps", str(clips.FPS),
             f"main={clips.make(clips.MAIN)}", f"sub={clips.make(clips.SUB)}"],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "READY":
            raise SystemExit("the clip server did not start (GStreamer's RTSP server: scripts/test.sh installs it)")

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class FfmpegFigures:
    cameras: int
    cpu_per_camera: float  # % of a core
    recorded_ratio: float  # bytes written against the main stream's
    server_cpu: float


@dataclass
class Figures:
    cameras: int
    cpu: dict[str, float]  # process kind: % of a core
    fps: list[float]  # per camera, the main stream's frames a second
    analysis: list[float]  # per camera, frames analysed a second
    analysis_target: float
    recorded_ratio: float
    stalls: int
    errors: list[str] = field(default_factory=list)
    stop_s: float = 0.0  # SIGTERM to the whole system gone
    killed: int = 0  # camera processes killed at the stop (they ignored SIGTERM)
    unclean_exits: int = 0  # processes that exited with a code other than 0

    @property
    def holds(self) -> bool:
        return (min(self.fps) >= HOLD_FPS and min(self.analysis) >= HOLD_ANALYSIS * self.analysis_target
                and not self.stalls and not self.errors and not self.killed and not self.unclean_exits)  # fmt: skip


def source_bytes_per_s() -> float:
    path = clips.make(clips.MAIN)
    return path.stat().st_size / (len(clips.units(path)) / clips.FPS)


def ffmpeg(server: ClipServer, cameras: int, warmup_s: float, seconds: float) -> FfmpegFigures:
    with tempfile.TemporaryDirectory() as folder:
        processes = [subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", server.url("main"),
             "-rtsp_transport", "tcp", "-i", server.url("sub"),
             "-map", "0:v", "-c", "copy", "-f", "segment", "-segment_time", "10", "-segment_format", "mp4",
             "-reset_timestamps", "1", f"{folder}/{n}-%05d.mp4",
             "-map", "1:v", "-vf", f"fps={5}", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        ) for n in range(cameras)]  # fmt: skip
        try:
            time.sleep(warmup_s)
            before = [cpu_seconds(p.pid) for p in processes]
            server_before = cpu_seconds(server.process.pid)
            written_before = sum(f.stat().st_size for f in Path(folder).iterdir())
            started = time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - started
            used = sum(cpu_seconds(p.pid) - b for p, b in zip(processes, before, strict=True))
            written = sum(f.stat().st_size for f in Path(folder).iterdir()) - written_before
            server_cpu = 100 * (cpu_seconds(server.process.pid) - server_before) / elapsed
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(10)
    return FfmpegFigures(cameras, 100 * used / elapsed / cameras, written / (source_bytes_per_s() * elapsed * cameras),
                         server_cpu)  # fmt: skip


def camstream(server: ClipServer, cameras: int, warmup_s: float, seconds: float, workers: int) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        with CamstreamRun(Path(folder), server.url, cameras, workers, WATCHED, server.process.pid) as run:
            run.wait_streaming()
            time.sleep(warmup_s)
            first = previous = run.sample()
            stalls = 0
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(1.0)
                now = run.sample()
                stalls += sum(now.units.get(c, 0) <= previous.units.get(c, 0) for c in range(1, cameras + 1))
                previous = now
            figures = _figures(cameras, first, previous, stalls, run.errors(), run.analysis_fps)
        # Stopped under the same load: the whole system must stop cleanly, not be killed.
        figures.stop_s, figures.killed = run.stop_s, run.killed()
        # uvicorn re-raises SIGTERM once it has shut down: the gateway's clean exit reads -15.
        figures.unclean_exits = sum(code not in (0, -signal.SIGTERM) for code in run.exit_codes)
        figures.errors = run.errors()
        return figures


def _figures(cameras: int, first: Sample, last: Sample, stalls: int, errors: list[str], target: float) -> Figures:
    elapsed = last.at - first.at
    ids = range(1, cameras + 1)
    cpu = {kind: 100 * (last.cpu[kind] - first.cpu.get(kind, 0.0)) / elapsed for kind in last.cpu}
    recorded = sum(last.recorded.get(c, 0) - first.recorded.get(c, 0) for c in ids)
    return Figures(
        cameras, cpu, [(last.units.get(c, 0) - first.units.get(c, 0)) / elapsed for c in ids],
        [(last.analysed.get(c, 0) - first.analysed.get(c, 0)) / elapsed for c in ids], target,
        recorded / (source_bytes_per_s() * elapsed * cameras), stalls, errors,
    )  # fmt: skip


def report(ours: Figures, theirs: FfmpegFigures | None) -> list[str]:
    ingest = ours.cpu["ingest"] / ours.cameras
    ratio = f"{ingest / theirs.cpu_per_camera:.2f}x" if theirs else "-"
    kinds = ", ".join(f"{kind} {share:.1f}" for kind, share in ours.cpu.items())
    return [
        f"| {ours.cameras} | {'yes' if ours.holds else '**no**'} | {ingest:.2f} | "
        f"{f'{theirs.cpu_per_camera:.2f}' if theirs else '-'} | {ratio} | {min(ours.fps):.1f} / "
        f"{sum(ours.fps) / len(ours.fps):.1f} | {min(ours.analysis):.2f} / "
        f"{sum(ours.analysis) / len(ours.analysis):.2f} | {ours.recorded_ratio:.3f} | {ours.stalls} | "
        f"{len(ours.errors)} | {ours.stop_s:.1f} s, {ours.killed} killed, {ours.unclean_exits} unclean | {kinds} |"
    ]


HEADER = [
    "| cameras | holds | ingest, % of a core per camera | FFmpeg, per camera | ratio | main stream fps, "
    "min / mean | analysed fps, min / mean (of 5) | recorded / source bytes | stalls | ERROR lines "
    "| stop on SIGTERM | CPU by process, % of a core |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", default="4,8,16,24")
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--workers", type=int, default=1, help="analyzer workers")
    parser.add_argument("--no-ffmpeg", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.cameras.split(",")]
    server = ClipServer()
    rows, held = [], 0
    try:
        for count in counts:
            ours = camstream(server, count, args.warmup, args.seconds, args.workers)
            theirs = None if args.no_ffmpeg else ffmpeg(server, count, args.warmup / 2, args.seconds)
            rows += report(ours, theirs)
            print("\n".join([*HEADER, *rows]), flush=True)
            for error in ours.errors[:5]:
                print(f"  {error}")
            held = count if ours.holds else held
    finally:
        server.stop()
    print(f"largest number of cameras that holds: {held or 'none'}")
    if not args.no_write:
        write_section("scale", [
            "## Scale: N cameras on this machine",
            "",
            f"Command: `.venv/bin/python -m bench.scale --cameras {args.cameras} --warmup {args.warmup:g} --seconds "
            f"{args.seconds:g} --workers {args.workers}`. {machine()}.",
            "",
            "Each camera: a 1920x1080@15 main stream (~4 Mbit/s, relayed, recorded continuously) and a 640x360@15 "
            f"detect stream (decoded, analysed at 5 fps), {WATCHED} cameras watched over WebRTC. FFmpeg: the same "
            "streams, `-c copy -f segment` and `-vf fps=5 -f rawvideo`. Holds: every camera's main stream at "
            f">= {HOLD_FPS} fps, analysis at >= {HOLD_ANALYSIS:.0%} of its rate, no stall, no ERROR line, and "
            "every process stopped by SIGTERM within 20 s, cleanly (exit code 0; the gateway's uvicorn "
            "re-raises the signal, -15), none killed.",
            "",
            *HEADER, *rows,
            "",
            f"Largest number of cameras that holds: **{held or 'none'}**.",
        ])  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
