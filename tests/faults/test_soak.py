"""Five minutes of the soak (bench/soak.py) in every CI run: the whole system under a steady load
(five cameras, recording, two WebRTC viewers, an MJPEG client); no process may grow by 5 % after
the first minute, no camera may stop, nothing may log an error. The hour-long run's figures are
in docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT, rtsp_server_missing

MINUTES = 5


@pytest.mark.timeout(MINUTES * 60 + 300)
def test_five_minutes_of_steady_load_grow_nothing_and_log_no_error() -> None:
    if reason := rtsp_server_missing():
        pytest.skip(reason)
    command = [sys.executable, "-m", "bench.soak", "--minutes", str(MINUTES), "--interval", "10", "--no-write",
               "--check"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=MINUTES * 60 + 240, check=False)
    report = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, report
    print(report)
