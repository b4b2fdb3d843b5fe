"""An unwritable data directory (a read-only disk) at start: every process says so in one line,
naming the path, and exits with its documented code (2: configuration, 69: database), never a
traceback. (A full recordings disk mid-run: tests/test_recording_segments.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.disks import tmpfs

PROCESSES = ("gateway", "ingest", "analyzer", "recorder", "bridge")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs (root, who runs CI's tests, would ignore mode bits)."""
    with tmpfs(tmp_path / "read-only", "ro,size=1m") as mount:
        yield mount


@pytest.mark.parametrize("where", ["a folder to create on it", "the disk itself"])
def test_every_process_refuses_an_unwritable_data_dir_in_one_clear_line(read_only_disk: Path, where: str) -> None:
    data_dir = read_only_disk / "data" if where.startswith("a folder") else read_only_disk
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSTREAM_")}
    env.update(CAMSTREAM_DATA_DIR=str(data_dir), CAMSTREAM_REDIS_URL="redis://127.0.0.1:1/0")
    for process in PROCESSES:
        done = subprocess.run([sys.executable, "-m", process], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        said = done.stderr.strip()
        assert done.returncode in (2, 69), (process, done.returncode, said)
        assert "Traceback" not in said and len(said.splitlines()) == 1, (process, said)
        assert said.startswith(f"camstream {process}: ") and str(read_only_disk) in said, said
        assert "Read-only file system" in said, said
