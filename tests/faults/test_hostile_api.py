"""Hostile input on every REST operation: schemathesis generates requests from the gateway's own
OpenAPI schema (valid and invalid ones, a fixed seed) against a real gateway process, with an
admin's token and without one. No answer may be a 5xx, and every answer (status, content type,
body, headers) must be one the schema declares; the gateway logs no error meanwhile (the fixture
checks its log).

The checks and the operations left out, each with its reason, are in schemathesis.toml beside this
file: the MJPEG stream (it never ends), and the two operations that reach out to the address they
are given (the camera probe, a notification's test send): generated URLs are never connected to."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ROOT, web, write_camera_file

SEED = 20261201
EXAMPLES = 12  # per operation and phase: > 1,000 cases over both runs
CONFIG = Path(__file__).with_name("schemathesis.toml")  # the checks, and the operations left out and why
HOOKS = "tests.faults.schemathesis_hooks"


def schemathesis(base: str, tmp_path: Path, *options: str) -> str:
    # The schema itself wants credentials: read once as the admin, given to schemathesis as a file.
    tmp_path.mkdir()
    schema = tmp_path / "openapi.json"
    schema.write_bytes(web.get(f"{base}/openapi.json").content)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "run", str(schema),
        "--url", base, "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "10", "--workers", "1", "--no-color", "--header", f"Origin: {base}", *options,
    ]  # fmt: skip
    env = os.environ | {"SCHEMATHESIS_HOOKS": HOOKS}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    return done.stdout


def cases(report: str) -> int:
    """Test cases run, from schemathesis's summary line."""
    match = re.search(r"Test cases:\s+(\d+) generated", report)
    assert match, report[-3000:]
    return int(match[1])


@pytest.mark.timeout(900)
def test_every_operation_fuzzed_with_and_without_credentials_never_fails_or_strays_from_its_schema(
    gateway: Callable[..., str], tmp_path: Path
) -> None:
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "front", "source": "demo:front"},
        {"id": 2, "name": "garage", "source": "demo:garage"},
    ])  # fmt: skip
    base = gateway(cameras)
    anonymous = schemathesis(base, tmp_path / "anonymous")
    # As the admin, bar revoking tokens: a generated request would revoke the run's own (it reads
    # the ids from GET /api/auth/tokens), or reset the admin's password, which revokes every token
    # of theirs too, and the rest would test the door, not the routes.
    admin = schemathesis(
        base, tmp_path / "admin", "--header", f"Authorization: Bearer {web.token(base)}",
        "--exclude-name", "DELETE /api/auth/tokens/{token_id}", "--exclude-name", "PATCH /api/users/{username}",
    )  # fmt: skip
    # Never a 401 alone: the token held all along (403s alone are the wrong current password's, etc.).
    assert "401 Unauthorized (" not in admin, admin[-4000:]
    assert cases(anonymous) + cases(admin) >= 1000
    print(f"{cases(anonymous)} requests anonymous, {cases(admin)} as the admin: no 5xx, all as the schema says")
    assert web.get(f"{base}/api/auth/me").status_code == 200  # and the gateway still serves
