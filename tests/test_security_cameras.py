"""Security, second pass, on cameras (issue 25): what an admin's camera fields can reach. In-process
gateway against the test's real Redis and SQLite: placeholders never fill a name from the
gateway's environment, a stored password never follows a URL to another host, and a login with
a raw '#' or a space is refused, never stored in clear or logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shared.cameras import load_cameras
from shared.redact import mask_credentials
from shared.settings import ConfigError
from tests.support import write_camera_file
from tests.support.inprocess import api

SECRET = "redis-Pa55word-of-the-bus"


def _every_byte_under(folder: Path) -> bytes:
    """The database, its journal and every other file the gateway wrote."""
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


async def test_placeholders_in_names_are_refused_and_never_filled(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMSTREAM_TEST_SECRET", SECRET)
    async with api(redis_url) as http:
        for fields in ({"name": "${CAMSTREAM_TEST_SECRET}"}, {"name": "porch", "location": "${HOME}"},
                       {"name": "porch", "analysis": {"zones": [{"name": "${CAMSTREAM_TEST_SECRET}",
                                                                  "points": [[0, 0], [1, 0], [1, 1]]}]}}):  # fmt: skip
            reply = await http.post("/api/cameras", json={"source": "rtsp://127.0.0.1:9/x", **fields})
            assert reply.status_code == 422, reply.text
            assert "placeholders" in reply.text and SECRET not in reply.text
        shown = await http.get("/api/cameras")
        assert SECRET not in shown.text and "${" not in shown.text


def test_the_camera_file_fills_placeholders_only_in_urls(tmp_path: Path) -> None:
    environ = {"CAM_PASSWORD": "pw", "CAMSTREAM_TEST_SECRET": SECRET}
    good = write_camera_file(tmp_path, [{"id": 1, "name": "porch", "source": "rtsp://cam:${CAM_PASSWORD}@127.0.0.1/x"}])
    camera = load_cameras(good, environ).cameras[0]
    assert camera.source.get_secret_value() == "rtsp://cam:pw@127.0.0.1/x"
    named = write_camera_file(tmp_path, [{"id": 1, "name": "${CAMSTREAM_TEST_SECRET}", "source": "demo:"}], "n.yaml")
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.name: \$\{VAR\} placeholders are filled in only") as e:
        load_cameras(named, environ)
    assert SECRET not in str(e.value)


async def test_a_stored_password_never_follows_the_url_to_another_host(redis_url: str) -> None:
    async with api(redis_url) as http:
        made = await http.post(
            "/api/cameras", json={"name": "gate", "source": "rtsp://cam:pw-of-gate@127.0.0.1:8554/a"}
        )
        assert made.status_code == 201, made.text
        camera = made.json()["id"]
        assert made.json()["source"] == "rtsp://***@127.0.0.1:8554/a"
        for elsewhere in (
            "rtsp://***@127.0.0.2:8554/a",
            "rtsp://***@127.0.0.1:8555/a",
            "rtsp://cam:***@localhost:8554/a",
        ):
            moved = await http.patch(f"/api/cameras/{camera}", json={"source": elsewhere})
            assert moved.status_code == 422 and "give the password again" in moved.text, (elsewhere, moved.text)
        renamed = await http.patch(f"/api/cameras/{camera}", json={"source": "rtsp://***@127.0.0.1:8554/b"})
        assert renamed.status_code == 200, renamed.text  # the same camera, another stream: the login is kept
        assert renamed.json()["source"] == "rtsp://***@127.0.0.1:8554/b"


@pytest.mark.parametrize("source", [
    "rtsp://cam:RAWSECRET6#x/y@127.0.0.1:8554/cam",
    "rtsp://cam:RAWSECRET6/y@127.0.0.1:8554/cam",
    "rtsp://cam:RAWSECRET6?y@127.0.0.1:8554/cam",
    "rtsp://cam:RAW SECRET6@127.0.0.1:8554/cam",
])  # fmt: skip
async def test_a_login_that_is_not_percent_encoded_is_refused_and_never_kept(
    redis_url: str, source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with api(redis_url) as http:
        reply = await http.post("/api/cameras", json={"name": "raw", "source": source})
        assert reply.status_code == 422, reply.text
        assert "percent-encode" in reply.text and "SECRET6" not in reply.text
        probed = await http.post("/api/cameras/probe", json={"source": source})
        assert probed.status_code == 422 and "SECRET6" not in probed.text, probed.text
    assert "SECRET6" not in caplog.text
    assert b"SECRET6" not in _every_byte_under(tmp_path)
    file = write_camera_file(tmp_path, [{"id": 1, "name": "raw", "source": source}], "raw.yaml")
    with pytest.raises(ConfigError, match="percent-encode") as error:
        load_cameras(file, {})
    assert "SECRET6" not in str(error.value)


def test_a_password_with_a_space_is_masked_in_text() -> None:
    assert (
        mask_credentials("could not open rtsp://cam:pass word@127.0.0.1/x") == "could not open rtsp://***@127.0.0.1/x"
    )
    assert mask_credentials("rtsp://127.0.0.1/path then a@b") == "rtsp://127.0.0.1/path then a@b"


@pytest.mark.parametrize(("url", "shown"), [
    ("tgram://123456789:TOKENSECRET7/-100200300", "tgram://***"),
    ("pover://userkey@TOKENSECRET7", "pover://***"),
    ("slack://TOKENSECRET7/BBBB/CCCC", "slack://***"),
    ("https://hooks.example:8443/TOKENSECRET7?x=1", "https://hooks.example:8443/***"),
])  # fmt: skip
async def test_notification_urls_are_masked_everywhere(
    redis_url: str, url: str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with api(redis_url) as http:
        kind = "webhooks" if url.startswith("https") else "notifications"
        body = {"name": "phone", "url": url, **({"secret": "s" * 16} if kind == "webhooks" else {})}
        added = await http.post(f"/api/{kind}", json=body)
        assert added.status_code == 201, added.text
        assert added.json()["url"] == shown
        listed = await http.get(f"/api/{kind}")
        assert "TOKENSECRET7" not in listed.text + added.text
    assert "TOKENSECRET7" not in caplog.text
