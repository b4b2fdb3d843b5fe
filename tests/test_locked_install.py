"""The install is exactly uv.lock: what is installed matches it (a package added, upgraded or
removed by hand fails here), the lock matches pyproject.toml, and the setup refuses a lock that
does not (docs/development.md). Nothing here touches the network."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.support import ROOT

# The project itself (editable) and the venv's own pip (scripts/uv.sh installs uv with it).
NOT_IN_LOCK = {"camstream", "pip"}
UV = Path(sys.prefix) / "uv" / "bin" / "uv"


def uv() -> str:
    found = str(UV) if UV.is_file() else shutil.which("uv")
    if found is None:
        pytest.fail("no uv: this environment was not made by scripts/setup.sh (docs/development.md)")
    return found


def uv_env() -> dict[str, str]:
    return {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable}


def locked_for_this_interpreter() -> dict[str, str]:
    """Name to version of every package the lock installs here: the extras this venv was set up
    with (the tests' `dev` at least) and the default groups, markers evaluated for this Python."""
    recorded = Path(sys.prefix, ".camstream-extras")
    extras = set(recorded.read_text().split()) if recorded.is_file() else set()
    args = [uv(), "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header", "--no-annotate"]
    for extra in sorted(extras | {"dev"}):
        args += ["--extra", extra]
    done = subprocess.run(args, cwd=ROOT, env=uv_env(), capture_output=True, text=True, check=True, timeout=60)
    locked: dict[str, str] = {}
    for line in done.stdout.splitlines():
        requirement, _, marker = line.partition(" ; ")
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", requirement.strip())
        if match is None:
            continue
        if not marker or Marker(marker).evaluate():
            locked[canonicalize_name(match[1])] = match[2]
    return locked


def installed() -> dict[str, str]:
    """Name to version of every distribution in this venv's site-packages."""
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions(path=paths)
    }


def test_installed_packages_are_exactly_the_lock() -> None:
    locked = locked_for_this_interpreter()
    have = {name: version for name, version in installed().items() if name not in NOT_IN_LOCK}
    assert "fastapi" in locked and "pytest" in locked and "scikit-image" in locked  # the export was read
    wrong = {name: f"{have[name]} installed, {version} locked" for name, version in locked.items() if name in have}
    wrong = {name: why for name, why in wrong.items() if have[name] != locked[name]}
    missing = sorted(set(locked) - set(have))
    extra = sorted(set(have) - set(locked))
    assert not (wrong or missing or extra), (
        f"this environment is not uv.lock: wrong versions {wrong}, missing {missing}, not in the lock {extra}; "
        "scripts/setup.sh dev puts it back (docs/development.md)"
    )


def test_lock_matches_pyproject() -> None:
    done = subprocess.run(
        [uv(), "lock", "--check"], cwd=ROOT, env=uv_env(), capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"uv.lock is stale: run scripts/lock.sh --keep and commit it\n{done.stderr}"


def test_setup_refuses_a_lock_that_does_not_match(tmp_path: Path) -> None:
    """The set-up scripts on a project of the test's own (no dependencies, so that uv resolves it
    offline): installed from its lock; then a change of pyproject.toml without a new lock stops the
    set-up, which says what to run."""
    if not UV.is_file():
        pytest.skip("uv is not scripts/uv.sh's (.venv/uv): this check would download it")
    (tmp_path / "scripts").mkdir()
    for name in ("scripts/setup.sh", "scripts/uv.sh", "scripts/uv-requirements.txt"):
        shutil.copy2(ROOT / name, tmp_path / name)
    project = '[project]\nname = "lock-check"\nversion = "1.0"\nrequires-python = ">=3.11"\ndependencies = []\n'
    (tmp_path / "pyproject.toml").write_text(project + "\n[tool.uv]\npackage = false\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / ".venv"], check=True, timeout=60)
    (tmp_path / ".venv" / "uv").symlink_to(UV.parents[1])  # this venv's uv, no download
    locking = subprocess.run([UV, "lock"], cwd=tmp_path, env=uv_env(), capture_output=True, text=True, check=False,
                             timeout=60)  # fmt: skip
    assert locking.returncode == 0, locking.stderr

    def setup() -> subprocess.CompletedProcess[str]:
        return subprocess.run([tmp_path / "scripts" / "setup.sh"], cwd=tmp_path, env=uv_env(),
                              capture_output=True, text=True, check=False, timeout=120)  # fmt: skip

    assert setup().returncode == 0, "the lock matches: installed"
    (tmp_path / "pyproject.toml").write_text(project.replace(">=3.11", ">=3.10") + "\n[tool.uv]\npackage = false\n")
    refused = setup()
    assert refused.returncode == 1
    assert "uv.lock does not match pyproject.toml" in refused.stderr and "scripts/lock.sh" in refused.stderr
