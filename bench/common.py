"""Helpers shared by the benchmarks: footage, medians, and writing a section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def machine() -> str:
    return (
        f"Run {time.strftime('%Y-%m-%d')} on {platform.machine()} ({cpu()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def cpu() -> str:
    """The CPU's model and the vector extensions the models' speed depends on (they differ between
    the machines these figures come from)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU unknown"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    wide = [name for name, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f"), ("VNNI", "avx512_vnni"),
                                    ("BF16", "avx512_bf16"), ("AMX", "amx_bf16")) if flag in flags]  # fmt: skip
    return " ".join([model or "CPU", "with", "/".join(wide) or "no AVX2"])


def write_section(name: str, lines: list[str]) -> None:
    """Replace the section between this benchmark's markers, or add it at the end."""
    begin, end = f"<!-- bench.{name}:begin -->", f"<!-- bench.{name}:end -->"
    section = "\n".join([begin, *lines, end])
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nEach section is written by its benchmark.\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


def gateway_env(folder: Path) -> dict[str, str]:
    """A benchmark's processes: quiet, their database in `folder` (never the user's own), the test
    suite's admin (tests.support.web)."""
    from tests.support.inprocess import ADMIN_PASSWORD  # noqa: PLC0415

    return {"CAMSTREAM_LOG_LEVEL": "WARNING", "CAMSTREAM_DATA_DIR": str(folder / "data"),
            "CAMSTREAM_ADMIN_PASSWORD": ADMIN_PASSWORD}  # fmt: skip


def wrk_rate(url: str, seconds: float, headers: dict[str, str], runs: int = 3) -> float:
    """Requests a second (median of `runs`) from wrk, 1 thread, 32 connections. The headers (a
    credential) go in a Lua script file, never on wrk's command line, which `ps` shows."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "headers.lua"
        script.write_text("".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items()))
        rates = []
        for _ in range(runs):
            out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds:g}s", "-s", str(script), url],
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
            if "Non-2xx" in out:
                raise RuntimeError(f"errors under load:\n{out}")
            rates.append(float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1]))  # type: ignore[index]
    return statistics.median(rates)
