"""Integers and nesting that no store can hold get a clear refusal: a 4xx from the API, a
configuration error (exit 2, no traceback) from a camera file; never a 500 or a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT
from tests.support.inprocess import api

HUGE = str(2**63 + 5)
BIG_FOR_POSTGRESQL = str(2**31)  # fits SQLite's integers, not PostgreSQL's INTEGER columns


async def test_camera_ids_past_the_databases_integers_are_a_422(redis_url: str) -> None:
    async with api(redis_url) as http:
        for camera_id in (HUGE, BIG_FOR_POSTGRESQL):
            for method, path, body in [
                ("PATCH", f"/api/cameras/{camera_id}", {"name": "x"}),
                ("DELETE", f"/api/cameras/{camera_id}", None),
                ("GET", f"/api/cameras/{camera_id}", None),
                ("GET", f"/api/cameras/{camera_id}/config", None),
                ("GET", f"/api/events?camera={camera_id}", None),
                ("GET", f"/api/recordings?camera_id={camera_id}", None),
                ("POST", f"/api/webrtc/stream/{camera_id}", None),
            ]:
                reply = await http.request(method, path, json=body)
                assert reply.status_code == 422, (method, path, reply.status_code, reply.text)
                assert "less than or equal to 2147483647" in reply.text, reply.text
            created = await http.post(
                "/api/cameras", json={"id": int(camera_id), "name": "x", "source": "rtsp://127.0.0.1:9/x"}
            )
            assert created.status_code == 422 and "less than or equal" in created.text, created.text


async def test_json_nested_past_64_levels_is_a_422(redis_url: str) -> None:
    deep = "[" * 900 + "]" * 900  # inside Python's recursion limit for json, past ours
    deeper = "[" * 20_000 + "]" * 20_000
    async with api(redis_url) as http:
        for text in (deep, deeper):
            for method, path in [("PATCH", "/api/cameras/1"), ("POST", "/api/cameras"), ("POST", "/api/webhooks")]:
                body = f'{{"name": {text}}}'.encode()
                reply = await http.request(method, path, content=body, headers={"Content-Type": "application/json"})
                assert reply.status_code == 422 and "nested deeper than 64" in reply.text, (path, reply.text)
        shallow = await http.patch("/api/cameras/1", json={"name": [[["x"]]]})
        assert shallow.status_code < 500 and "nested" not in shallow.text, shallow.text  # on to the route


def _validate(camera_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMSTREAM_CAMERAS_FILE": str(camera_file)}
    return subprocess.run([sys.executable, "-m", "ingest", "--validate-config"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_a_camera_file_with_a_huge_id_or_deep_nesting_is_a_configuration_error(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yml"
    huge.write_text(f"cameras:\n  - id: {HUGE}\n    name: Big\n    source: 'demo:'\n")
    deep = tmp_path / "deep.yml"
    deep.write_text("cameras:\n  - id: 1\n    name: Deep\n    source: 'demo:'\n    analysis: "
                    + "[" * 20_000 + "]" * 20_000 + "\n")  # fmt: skip
    for path, reason in [(huge, "cameras[0].id: Input should be less than or equal to 2147483647"),
                         (deep, "nested deeper than 64 levels")]:  # fmt: skip
        checked = _validate(path)
        assert checked.returncode == 2, (checked.returncode, checked.stderr[-2000:])
        assert reason in checked.stderr and "Traceback" not in checked.stderr, checked.stderr[-2000:]
