"""Footage on a host's own disk (CAMSTREAM_RECORDINGS_URL): its recorder's server (recorder.serve) on a
real socket, and a gateway's clip cut from it (gateway.footage, gateway.clips). What an operator
would check: only requests signed with the shared key get footage (unsigned, another key, expired:
refused, with a reason that says what to fix), only finished segments are served (no part file, no
path out of the folder), a clip is cut from another host's footage and leaves no copy behind, and a
host that does not answer is a clear error; with several recorders one does the system's duties. The
three-host test runs it across network namespaces.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from gateway import clips
from gateway.footage import FootageSource, Unreachable
from recorder.duties import DUTIES_TTL_S, Duties
from recorder.serve import FootageServer
from shared import keys, recordings
from shared.db.recordings import Segment
from shared.embedded_redis import free_port
from shared.footage_signing import footage_key, signed
from shared.settings import ConfigError, load_settings
from tests.support.segments import write_sample_segment

KEY = footage_key("the-shared-secret-key-of-the-site")
START_MS = 1_780_000_000_000


@dataclass
class Served:
    url: str
    root: Path
    server: FootageServer
    segment: Segment


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "disk-a"
    path = recordings.finished_path(root, 1, START_MS, START_MS + 10_000)
    path.parent.mkdir(parents=True)
    write_sample_segment(path)
    recordings.part_path(root, 1, START_MS + 10_000).write_bytes(b"being written")
    (root / "secret.key").write_bytes(b"not footage")
    port = free_port()
    server = FootageServer(f"127.0.0.1:{port}", root, KEY)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    segment = Segment(7, 1, START_MS, START_MS + 10_000, path.stat().st_size, str(path.relative_to(root)), False,
                      False, True, host="disk-a")  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the footage server did not start"
            time.sleep(0.05)
    yield Served(url, root, server, segment)
    server.stop()
    thread.join(10)
    server.socket.close()


def _get(served: Served, path: str, key: bytes = KEY, at_s: float | None = None, **headers: str) -> httpx.Response:
    signature = signed(key, "GET", path, time.time() if at_s is None else at_s)
    return httpx.get(served.url + path, headers={**signature, **headers}, timeout=5)


def test_a_hosts_footage_goes_to_signed_requests_only(served: Served) -> None:
    path = "/footage/" + served.segment.path
    whole = (served.root / served.segment.path).read_bytes()

    unsigned = httpx.get(served.url + path, timeout=5)
    assert unsigned.status_code == 401 and "unsigned" in unsigned.text
    other_key = _get(served, path, key=footage_key("another-site-s-secret-key"))
    assert other_key.status_code == 403 and "CAMSTREAM_SECRET_KEY" in other_key.text
    expired = _get(served, path, at_s=time.time() - 600)
    assert expired.status_code == 403 and "expired" in expired.text
    forged = httpx.get(served.url + path, headers=signed(KEY, "GET", "/footage/1", time.time()), timeout=5)
    assert forged.status_code == 403  # a signature is for one path
    assert served.server.refusals.count == 4

    got = _get(served, path)
    assert got.status_code == 200 and got.content == whole
    part = _get(served, "/footage/" + str(recordings.part_path(served.root, 1, START_MS + 10_000)
                                         .relative_to(served.root)))  # fmt: skip
    assert part.status_code == 404  # being written: never served
    ranged = _get(served, path, Range="bytes=0-99")
    assert ranged.status_code == 206 and ranged.content == whole[:100]
    for outside in ("/footage/1/..%2F..%2Fsecret.key", "/footage/1/2026-12-06/secret.key", "/footage/../secret.key"):
        assert _get(served, outside).status_code == 404, outside

    purge = httpx.delete(served.url + "/footage/1", headers=signed(KEY, "DELETE", "/footage/1", time.time()), timeout=5)
    assert purge.status_code == 204 and not (served.root / "1").exists()
    assert (served.root / "secret.key").exists()


def test_a_gateway_cuts_a_clip_from_another_hosts_footage(served: Served, tmp_path: Path) -> None:
    cache = tmp_path / "clips"
    source = FootageSource(tmp_path / "local", "", {"disk-a": served.url}, KEY)
    start_s = START_MS / 1000
    clip = clips.cached_or_made(cache, source, [served.segment], 1, start_s + 1, start_s + 8, 10**9, 0)
    assert clip.read_bytes()[4:8] == b"ftyp" and clip.stat().st_size > 1000
    assert [p.name for p in cache.iterdir()] == [clip.name]  # the fetched copy is gone

    wrong_key = FootageSource(tmp_path / "local", "", {"disk-a": served.url}, footage_key("x" * 16))
    with pytest.raises(Unreachable, match="CAMSTREAM_SECRET_KEY"):  # a gateway with another key
        clips.cached_or_made(cache, wrong_key, [served.segment], 1, start_s + 2, start_s + 8, 10**9, 0)
    with pytest.raises(Unreachable, match="has not said where"):
        clips.cached_or_made(cache, FootageSource(tmp_path / "local", "", {}, KEY), [served.segment], 1, start_s + 3,
                             start_s + 8, 10**9, 0)  # fmt: skip
    gone = FootageSource(tmp_path / "local", "", {"disk-a": f"http://127.0.0.1:{free_port()}"}, KEY)
    with pytest.raises(Unreachable, match="did not answer"):
        clips.cached_or_made(cache, gone, [served.segment], 1, start_s + 4, start_s + 8, 10**9, 0)
    assert [p.name for p in cache.iterdir()] == [clip.name]


def test_footage_served_from_a_host_needs_the_shared_key_and_a_free_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMSTREAM_RECORDINGS_URL", "http://ingest-1.internal:8790")
    monkeypatch.delenv("CAMSTREAM_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="CAMSTREAM_RECORDINGS_URL needs CAMSTREAM_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("CAMSTREAM_SECRET_KEY", "the-shared-secret-key-of-the-site")
    assert load_settings().recordings_host == load_settings().ingest_host
    port = free_port()
    held = FootageServer(f"127.0.0.1:{port}", Path("/nonexistent"), KEY)
    try:
        with pytest.raises(ConfigError, match=f"CAMSTREAM_RECORDINGS_LISTEN: cannot listen on 127.0.0.1:{port}"):
            FootageServer(f"127.0.0.1:{port}", Path("/nonexistent"), KEY)
    finally:
        held.socket.close()


def test_one_recorder_of_several_does_the_systems_duties(rdb: redis.Redis) -> None:
    """The health events and event retention are done once however many recorders run (recorder.duties):
    the first to ask holds them, another takes them at once when it stops cleanly; with Redis away
    the holder keeps them only until its lease would have lapsed."""
    a, b = Duties(rdb, "ingest-1"), Duties(rdb, "hub")
    assert a.renew() and not b.renew() and a.renew()
    assert rdb.get(keys.recorder_duties()) == a.name.encode()
    a.give_up()
    assert b.renew() and not a.renew()

    away = Duties(redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1), "cut-off")
    away.held, away._confirmed_at = True, time.monotonic() - 1.0  # held, confirmed a second ago
    assert away.renew()
    away._confirmed_at = time.monotonic() - DUTIES_TTL_S
    assert not away.renew()  # past the lease's life: another recorder may hold them now
