"""A real PostgreSQL server of the test session's own: Debian's initdb and pg_ctl on a free
loopback port, in a temporary folder, with a password (so masking is tested too). Both refuse
to run as root, so under root they run as `nobody` (runuser)."""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import asyncpg

from shared.embedded_redis import free_port

USER = "camstream"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; scripts/test.sh installs it)")
        self.bin = bin_dir
        self.port = free_port()
        self.password = secrets.token_urlsafe(16) + "#/@"  # reserved characters: masking must cope
        self.folder = Path(tempfile.mkdtemp(prefix="camstream-pg-"))
        self.data = self.folder / "data"
        self._as = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as, *command], capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")

    def start(self) -> PostgresServer:
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n")
        if self._as:
            shutil.chown(self.folder, "nobody")
            shutil.chown(password_file, "nobody")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={password_file}", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        password_file.unlink()
        # fsync off: the tests kill processes, never the machine; it makes the suite faster.
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again, after `halt`)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def halt(self) -> None:
        """Stop the server at once, as a crash would (immediate mode: no checkpoint)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://{USER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str) -> str:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=USER, password=self.password, database="postgres"
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()
