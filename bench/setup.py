"""Set-up benchmark: wall time of `scripts/setup.sh dev` on a clean clone, with an empty package
cache and with a warm one, the locked install (uv.lock through uv) beside the old one (pip
resolving pyproject.toml's ranges afresh, as at `--old-ref`).

    .venv/bin/python -m bench.setup [--repeat 3] [--old-ref 1291315] [--no-write]

Each run clones the repository into a temporary folder (so no .venv, nothing installed), points
the installers' caches at a folder of the run's own (XDG_CACHE_HOME, PIP_CACHE_DIR, UV_CACHE_DIR;
the object model's download too), times the
set-up with that cache empty, deletes .venv, and times it again with the cache now warm. Old and
new take turns, so the machine's noise falls on both alike. Needs PyPI: the only benchmark that
downloads. It rewrites the set-up section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import machine, write_section

ROOT = Path(__file__).resolve().parents[1]
# The last commit that installed with pip from pyproject.toml's ranges.
OLD_REF = "1291315"


def _timed_setup(clone: Path, env: dict[str, str]) -> float:
    began = time.monotonic()
    subprocess.run(["scripts/setup.sh", "dev"], cwd=clone, env=env, check=True, capture_output=True, timeout=1800)
    return time.monotonic() - began


def _cold_and_warm(ref: str, work: Path) -> tuple[float, float]:
    """Seconds of a set-up with an empty cache, then of one with the cache it left."""
    clone = work / f"clone-{ref}"
    cache = work / f"cache-{ref}"
    shutil.rmtree(clone, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    subprocess.run(["git", "checkout", "-q", ref], cwd=clone, check=True, timeout=60)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(cache),
        "PIP_CACHE_DIR": str(cache / "pip"),
        "UV_CACHE_DIR": str(cache / "uv"),
    }
    cold = _timed_setup(clone, env)
    shutil.rmtree(clone / ".venv")
    warm = _timed_setup(clone, env)
    shutil.rmtree(clone)
    shutil.rmtree(cache, ignore_errors=True)  # pip may have cached nothing
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-ref", default=OLD_REF, help="the commit whose set-up is the old path")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    new_ref = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    paths = {"pip, resolved afresh (old)": args.old_ref, "uv.lock through uv (new)": new_ref}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as folder:
        for run in range(args.repeat):
            for name, ref in paths.items():
                cold, warm = _cold_and_warm(ref, Path(folder))
                times[name].append((cold, warm))
                print(f"run {run + 1}: {name}: empty cache {cold:.1f} s, warm cache {warm:.1f} s", flush=True)

    command = ".venv/bin/python -m bench.setup" + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
    lines = [
        "## Set-up",
        "",
        f"Command: `{command}`. {machine()}; medians of {args.repeat} runs, old and new in turn.",
        "",
        "Wall time of `scripts/setup.sh dev` on a clean clone (no .venv): everything the test command",
        "installs into .venv, dev tools and the OpenVINO runtime included; PyPI over this machine's network.",
        "",
        "| install | empty cache (s) | warm cache (s) |",
        "| --- | --- | --- |",
    ]
    for name, runs in times.items():
        cold = statistics.median(c for c, _w in runs)
        warm = statistics.median(w for _c, w in runs)
        lines.append(f"| {name} | {cold:.1f} | {warm:.1f} |")
        print(f"{name}: empty cache {cold:.1f} s, warm cache {warm:.1f} s")
    lines += [
        "",
        f"Old: `{args.old_ref}`'s setup.sh (pip resolving pyproject.toml's ranges); new: `{new_ref}`'s (uv installing "
        "uv.lock, then NanoDet-g's files from the npm registry: a 145 MB tarball, in the empty-cache column). "
        "The old path's warm run is no faster: its time goes to resolving and installing, not downloading.",
    ]
    if not args.no_write:
        write_section("setup", lines)


if __name__ == "__main__":
    main()
