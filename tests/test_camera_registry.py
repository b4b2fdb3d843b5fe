"""The external camera registry: a small HTTP server on loopback serves camera lists (then a changed
one, then errors and garbage), real ingest and gateway processes follow it, and report each
camera's webrtcUrl back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support import RtspServer, ServiceRun, read_frames, wait_until, web, write_camera_file

pytestmark = pytest.mark.rtsp
TOKEN = "registry-token-0123456789"


class FakeRegistry(ThreadingHTTPServer):
    """An external backend as a VMS would be: a camera list, and the webrtcUrl reports it receives."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cameras: list[dict[str, Any]] = []
        self.mode = "ok"  # ok, error or garbage
        self.reports: dict[str, Any] = {}
        self.unauthorised = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/cameras"


class _Handler(BaseHTTPRequestHandler):
    server: FakeRegistry

    def log_message(self, *_args: Any) -> None:
        pass

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.server.unauthorised += 1
            self.send_response(401)
            self.end_headers()
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.server.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        body = b"{not json" if self.server.mode == "garbage" else json.dumps(self.server.cameras).encode()
        etag = f'"{hash(body)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PATCH(self) -> None:
        if not self._authorised():
            return
        length = int(self.headers.get("Content-Length", "0"))
        self.server.reports[self.path] = json.loads(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_camstream_follows_the_registry_and_keeps_the_last_good_list(
    registry: FakeRegistry, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    lobby, yard = rtsp_server(size="320x180", fps=10), rtsp_server(size="320x180", fps=10)
    registry.cameras = [
        {"id": 11, "name": "Lobby", "location": "Main hall", "channel": 701, "rtsp_url": lobby.url()},
        {"id": 12, "name": "Yard", "rtspUrl": yard.url()},
    ]
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "own", "source": "demo:?size=320x180",
                                            "analysis": {"enabled": False}, "record": {"mode": "off"}}])  # fmt: skip
    env = {"CAMSTREAM_CAMERA_REGISTRY_URL": registry.url, "CAMSTREAM_CAMERA_REGISTRY_TOKEN": TOKEN,
           "CAMSTREAM_CAMERA_REGISTRY_INTERVAL_S": "1"}  # fmt: skip
    ingest(cameras, env=env)
    base = gateway(cameras, env=env)

    def names() -> dict[int, str]:
        return {c["id"]: c["name"] for c in web.get(f"{base}/api/cameras").json()}

    wait_until(lambda: names() == {1: "own", 11: "Lobby", 12: "Yard"}, 10.0, what="the registry's cameras")
    wait_until(lambda: read_frames(rdb, 11, 0.2, start_id="0"), 10.0, what="frames of a registry camera")
    wait_until(lambda: len(registry.reports) == 2, 15.0, what="both webrtcUrl reports")
    assert registry.reports["/cameras/11"] == {"webrtcUrl": "/api/webrtc/stream/11"} and not registry.unauthorised
    config = web.get(f"{base}/api/cameras/11/config").json()
    assert config["registry"] is True and config["channel"] == 701
    refused = httpx.patch(f"{base}/api/cameras/11", json={"name": "x"}, headers=web.headers(base))
    assert refused.status_code == 409 and "registry" in refused.text
    # What camstream decides about a registry camera (its analysis, with zones) is set here.
    zones = {"motion_zones": [[[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]]}
    drawn = httpx.patch(f"{base}/api/cameras/12", json={"analysis": zones}, headers=web.headers(base))
    assert drawn.status_code == 200, drawn.text

    # A changed list: one camera renamed, one gone; the zones drawn here stay.
    registry.cameras = [{"id": 12, "name": "Back yard", "source": yard.url()}]
    wait_until(lambda: names() == {1: "own", 12: "Back yard"}, 10.0, what="the changed list applied")
    assert web.get(f"{base}/api/cameras/12/config").json()["analysis"]["motion_zones"] == zones["motion_zones"]

    # Errors and garbage: the last good list stays; the system status says why.
    for mode, words in (("error", "answered 500"), ("garbage", "unusable camera list")):
        registry.mode = mode
        status = wait_until(lambda w=words: (r := web.get(f"{base}/api/system").json()["registry"]) and  # type: ignore[misc]
                            w in str(r["error"]) and r, 10.0, what=f"the registry's {mode}")  # fmt: skip
        assert status["ok"] is False and TOKEN not in str(status)
        assert names() == {1: "own", 12: "Back yard"}
    registry.mode = "ok"
    wait_until(lambda: web.get(f"{base}/api/system").json()["registry"]["ok"], 10.0, what="the registry back")
