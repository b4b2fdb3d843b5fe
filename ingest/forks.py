"""Camera processes forked from a warm process (a fork server), not started cold.

A camera process started as `python -m ingest --camera ID` spends about a CPU-second importing
PyAV, NumPy, redis-py and the rest before its first frame: eight at once (a host's cameras failing
over to another) took five seconds of two cores. The manager starts one fork server beside it
(`python -m ingest --fork-server FD`), which imports all of that once and waits; each camera process
is then a fork of it (milliseconds), running exactly what `python -m ingest --camera ID
--camera-on-stdin` runs, with its definition on standard input (never a command line).

How a fork becomes the manager's child: the server forks a helper, the helper forks the camera and
exits, and the camera is reparented to the manager, a child subreaper (PR_SET_CHILD_SUBREAPER): the
manager waits for it as for any child and reads its exit status (ingest.leases.EXIT_FENCED, ...).
Should the manager die, its cameras run on and the next manager adopts them (ingest.locks), as
before. Should the server die or not answer, the camera starts cold (said once) and the server is
started again later. The camera's process title (setproctitle) is `python -m ingest --camera ID`,
what ps, top and the tests see. CAMSTREAM_INGEST_FORK_SERVER=false starts every camera cold.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

READY = b"ready\n"
START_TIMEOUT_S = 30.0  # the server's imports: a second on an idle core, more on a loaded host
# The manager's loop heartbeats its host every half second: a fork (milliseconds) is waited for this
# long at most, and a server restarted later is not waited for at all (cameras start cold meanwhile).
FORK_TIMEOUT_S = 1.0
RESTART_AFTER_S = 30.0  # a server that failed is tried again this long after
PR_SET_CHILD_SUBREAPER = 36
F_SETPIPE_SZ = 1031
DEFINITION_MAX = 1 << 20  # a camera's definition (JSON); far larger than any real one


class PidProcess:
    """A camera process known by its pid, not a Popen: signalled while poll() says it runs, waited
    for by polling. Subclasses say how it is known to have ended."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        raise NotImplementedError

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # not ended: the pid is still this process
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"camera process {self.pid}", timeout or 0.0)
            time.sleep(0.02)
        return code


class Forked(PidProcess):
    """A camera process forked by the server and reparented to this manager: waited for as a child
    (not reaped, its pid stays this process, a zombie at worst)."""

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not ours after all (the reparenting failed): gone for us
                self.returncode = -1
            else:
                if done:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


class ForkServer:
    """The manager's side: starts the server at once (its imports overlap the manager's start) and
    asks it for camera processes; None when it cannot (the caller starts the camera cold)."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._ready = False
        self._failed_at = -float("inf")
        self.subreaper = _become_subreaper()
        if self.subreaper:
            self._start()
            self._await_ready(START_TIMEOUT_S)  # at the manager's start, before its first heartbeat
        else:
            log.warning("ingest: cannot be a child subreaper here: cameras start cold (a second of CPU each)")

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "ingest", "--fork-server", str(theirs.fileno())],
                env=self._server_env(), stdin=subprocess.DEVNULL, pass_fds=[theirs.fileno()],
            )  # fmt: skip
        except OSError as e:
            ours.close()
            self._failed(f"cannot start it: {e}")
            return
        finally:
            theirs.close()
        self._control, self._ready = ours, False

    def _server_env(self) -> dict[str, str]:
        # SPT_NOENV: a title never spills into the environment's memory (/proc/PID/environ stays
        # readable). One OpenBLAS thread: the server is forked, and a fork copies only the thread that
        # forks (NumPy's BLAS threads would otherwise start at import; a camera needs none).
        return {"OPENBLAS_NUM_THREADS": "1", **self._env, "SPT_NOENV": "1"}

    def fork(self, camera_id: int, definition: dict[str, Any]) -> Forked | None:
        if not self.subreaper:
            return None
        if self._control is None:
            if time.monotonic() - self._failed_at < RESTART_AFTER_S:
                return None
            self._start()
        if not self._await_ready(0.0):
            return None
        try:
            assert self._control is not None
            self._control.sendall(json.dumps({"camera": camera_id, "definition": definition}).encode() + b"\n")
            answer = self._read_line(FORK_TIMEOUT_S)
            pid = int(answer)
        except (OSError, ValueError) as e:
            self._failed(f"{type(e).__name__}: {e}")
            return None
        return Forked(pid)

    def _await_ready(self, wait_s: float) -> bool:
        """Whether the server is ready to fork, waiting at most wait_s for it to say so."""
        if self._ready or self._control is None:
            return self._ready
        try:
            if not select.select([self._control], [], [], wait_s)[0]:
                if self._process is not None and self._process.poll() is not None:
                    raise OSError(f"it exited with code {self._process.returncode}")
                if wait_s > 0:
                    raise OSError(f"it was not ready within {wait_s:g} s")
                return False  # still importing: this camera starts cold
            if self._read_line(FORK_TIMEOUT_S) != READY:
                raise OSError("it did not say it was ready")
        except OSError as e:
            self._failed(str(e))
            return False
        self._ready = True
        return True

    def _read_line(self, timeout_s: float) -> bytes:
        assert self._control is not None
        self._control.settimeout(timeout_s)
        line = b""
        while not line.endswith(b"\n"):
            got = self._control.recv(1)  # a line of a few bytes: one at a time keeps nothing buffered
            if not got:
                raise OSError("the fork server has gone")
            line += got
        return line

    def _failed(self, why: str) -> None:
        log.warning("ingest: the camera fork server failed (%s): cameras start cold meanwhile; retried in %.0f s",
                    why, RESTART_AFTER_S)  # fmt: skip
        self._failed_at = time.monotonic()
        self.stop(wait_s=0.0)

    def stop(self, wait_s: float = 2.0) -> None:
        """Close the server's socket (it reads the end of it, and leaves); killed after wait_s."""
        if self._control is not None:
            self._control.close()
            self._control = None
        self._ready = False
        if self._process is not None:
            try:
                self._process.wait(wait_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def serve(fd: int) -> int:
    """The server (`python -m ingest --fork-server FD`): everything a camera imports is imported;
    a camera process forked for each request on the manager's socket, until the manager closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the manager's to handle
    import setproctitle  # noqa: PLC0415 - SPT_NOENV is in the environment before it loads

    from ingest import __main__ as ingest_main  # noqa: PLC0415, F401 - what each camera would import

    setproctitle.setproctitle("python -m ingest --fork-server")
    control = socket.socket(fileno=fd)
    control.sendall(READY)
    requests = control.makefile("rb")
    for line in requests:
        try:
            request = json.loads(line)
            camera_id, definition = int(request["camera"]), json.dumps(request["definition"]).encode()
            if len(definition) > DEFINITION_MAX:
                raise ValueError("the definition is too large")
            pid = _fork_camera(camera_id, definition, control)
        except (ValueError, KeyError, TypeError, OSError) as e:
            control.sendall(f"error {type(e).__name__}\n".encode())
            continue
        control.sendall(f"{pid}\n".encode())
    return 0


def _fork_camera(camera_id: int, definition: bytes, control: socket.socket) -> int:
    """Fork the camera through a helper that exits at once, so that the camera is reparented to the
    manager (the subreaper above us); the camera's pid."""
    read_pid, write_pid = os.pipe()
    helper = os.fork()
    if helper == 0:
        try:
            os.close(read_pid)
            camera = os.fork()
            if camera == 0:
                os.close(write_pid)
                _become_camera(camera_id, definition, control)
            os.write(write_pid, f"{camera}\n".encode())
        finally:
            os._exit(0)
    os.close(write_pid)
    os.waitpid(helper, 0)
    with os.fdopen(read_pid, "rb") as answer:
        return int(answer.read())


def _become_camera(camera_id: int, definition: bytes, control: socket.socket) -> None:
    """In the forked process: run the camera as `python -m ingest --camera ID --camera-on-stdin` would.
    Never returns."""
    code = 70
    try:
        control.close()  # the manager's channel is the server's alone
        read, write = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(write, F_SETPIPE_SZ, DEFINITION_MAX)
        os.write(write, definition)
        os.close(write)
        os.dup2(read, 0)
        os.close(read)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's own standard input
        import setproctitle  # noqa: PLC0415

        setproctitle.setproctitle(f"python -m ingest --camera {camera_id}")
        from ingest.__main__ import SPEC  # noqa: PLC0415 - imported already: the server's
        from shared.process import run_process  # noqa: PLC0415

        code = run_process(SPEC, ["--camera", str(camera_id), "--camera-on-stdin"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # whatever it was: said, and the process ends
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def server_env(cameras_file: Path | None) -> dict[str, str]:
    """The environment camera processes get (the server's, inherited by each fork)."""
    env = dict(os.environ)
    if cameras_file is not None:
        env["CAMSTREAM_CAMERAS_FILE"] = str(cameras_file.resolve())
    return env
