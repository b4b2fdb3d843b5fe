"""Accounts with real processes: a gateway's first start on its own, the users CLI, HTTPS with a
generated certificate in Chromium, and secrets (camera, Redis, database) that appear nowhere."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from shared.embedded_redis import EmbeddedRedis, free_port
from tests.support import (
    ROOT,
    RtspServer,
    ServiceRun,
    gateway_answers,
    wait_until,
    web,
    write_camera_file,
)
from tests.support.browser import browser_page, csp_violations
from tests.support.inprocess import ADMIN_PASSWORD

LOOPBACK = {"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def _login(base: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, headers={"Origin": base}, verify=False)
    client.post("/api/auth/login", json={"username": user, "password": password}).raise_for_status()
    return client


def test_a_gateway_started_alone_leaves_the_generated_password_in_a_private_file(
    gateway: Callable[..., str], monkeypatch: pytest.MonkeyPatch, _data_dir: Path
) -> None:
    monkeypatch.delenv("CAMSTREAM_ADMIN_PASSWORD")
    base = gateway(None)
    path = _data_dir / "initial-admin-password"
    wait_until(path.exists, 10.0, what="the password file")
    assert path.stat().st_mode & 0o777 == 0o600
    user, password = path.read_text().split()
    assert user == "admin" and len(password) >= 20
    client = _login(base, user, password)
    assert client.get("/api/auth/me").json()["role"] == "admin"
    client.close()
    logs = "".join(p.read_text() for p in _data_dir.parent.glob("gateway-*.log"))
    assert str(path) in logs and password not in logs
    # A data folder anywhere (not only under .run/): the database, its key and every folder are the
    # gateway's user's alone.
    written = [p for p in _data_dir.rglob("*")]
    assert any(p.suffix == ".db" for p in written) and any(p.name == "secret.key" for p in written), written
    assert [p for p in written if p.stat().st_mode & 0o077] == []


def test_the_users_cli_adds_lists_resets_and_deletes(gateway: Callable[..., str]) -> None:
    base = gateway(None)
    added = _cli("users", "add", "olga", "--role", "viewer", "--password-stdin", stdin="olga-Passw0rd\n")
    assert added.returncode == 0 and "olga-Passw0rd" not in added.stdout + added.stderr, added.stderr
    listed = _cli("users", "list").stdout
    assert re.search(r"^admin\tadmin\t", listed, re.M) and re.search(r"^olga\tviewer\t", listed, re.M)
    olga = _login(base, "olga", "olga-Passw0rd")
    assert olga.get("/api/cameras").status_code == 200
    reset = _cli("users", "reset-password", "olga")  # no terminal, no --password-stdin: one is generated
    generated = re.search(r"password \(shown this once\): (\S+)", reset.stdout)
    assert reset.returncode == 0 and generated, reset.stdout + reset.stderr
    wait_until(lambda: olga.get("/api/cameras").status_code == 401, 3.0, what="olga's session to end")
    _login(base, "olga", generated[1]).close()
    assert _cli("users", "add", "olga", "--password-stdin", stdin="another-Passw0rd\n").returncode == 1
    assert _cli("users", "add", "x", "--password-stdin", stdin="short\n").returncode == 2
    assert _cli("users", "delete", "admin").returncode == 1  # the last admin
    assert _cli("users", "delete", "olga").returncode == 0
    assert "olga" not in _cli("users", "list").stdout
    olga.close()


def test_https_with_a_generated_certificate_plays_over_wss_in_chromium(
    chromium_available: None, rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
    redis_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    made = _cli("make-cert", "--out", str(tmp_path / "tls"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    server = rtsp_server(size="640x360", fps=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "live", "source": server.url(), "fps": 15}])
    ingest(cameras)
    port = free_port()
    tls = {
        "CAMSTREAM_TLS_CERT": str(tmp_path / "tls" / "cert.pem"),
        "CAMSTREAM_TLS_KEY": str(tmp_path / "tls" / "key.pem"),
    }
    gateway = ServiceRun("gateway", redis_url, cameras, tmp_path / "gateway-tls.log", "--host", "127.0.0.1",
                         "--port", str(port), env={**LOOPBACK, **tls})  # fmt: skip
    base = f"https://127.0.0.1:{port}"
    try:
        wait_until(lambda: gateway_answers(base), 20.0, what="the gateway over HTTPS")
        client = _login(base, "admin", ADMIN_PASSWORD)
        cookie = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert "; Secure" in cookie.headers["set-cookie"]
        assert client.post("/api/users", json={"username": "vic", "password": "vic-Passw0rd"}).status_code == 201
        client.close()
        with browser_page(login=base, extra_args=("--ignore-certificate-errors",)) as page:
            wait_until(lambda: page.evaluate(
                "async () => window.camstream ? (await window.camstream.tiles.get(1).framesDecoded()) : 0") > 10,
                20.0, interval_s=0.5, what="the camera playing over HTTPS")  # fmt: skip
            assert page.evaluate("() => location.protocol") == "https:"
            assert page.inner_text("#who") == "admin (admin)" and page.locator("#open-users").is_visible()
            assert csp_violations(page) == []
        with browser_page(extra_args=("--ignore-certificate-errors",)) as viewer:
            from tests.support.browser import log_in  # noqa: PLC0415

            log_in(viewer, base, "vic", "vic-Passw0rd")
            wait_until(lambda: viewer.inner_text("#who") == "vic (viewer)", 10.0, what="the viewer's name")
            assert not viewer.locator("#open-users").is_visible()  # a viewer manages no users
    finally:
        gateway.stop()
        assert "Traceback" not in gateway.log_text() and "gateway stopped" in gateway.log_text()


def _records(url: str) -> str:
    """Every status record, heartbeat and lease in Redis as text (streams of frames left out)."""
    client = redis.Redis.from_url(url)
    texts = []
    for key in client.keys("*"):
        kind = client.type(key)
        if kind == b"string":
            texts.append(repr(client.get(key)))
        elif kind == b"hash":
            texts.append(repr(client.hgetall(key)))
    client.close()
    return "".join(texts)


def test_camera_redis_and_database_passwords_appear_nowhere(
    rtsp_server: Callable[..., RtspServer], postgres_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    camera_password = "Cam3ra-Pw-9f1e"
    server = rtsp_server(refuse_login=False)
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "with credentials", "source": server.url("admin:${CAM_PASSWORD}"), "fps": 10},
        {"id": 2, "name": "unreachable", "source": f"rtsp://admin:{camera_password}@127.0.0.1:{free_port()}/cam"},
    ])  # fmt: skip
    database_password = re.search(r"://[^:]+:([^@]+)@", postgres_url)[1]  # type: ignore[index]
    env = {"CAM_PASSWORD": camera_password, "CAMSTREAM_DATABASE_URL": postgres_url, **LOOPBACK}
    with EmbeddedRedis(password="R3dis-Pw-7c2a") as bus:
        runs = [ServiceRun(m, bus.url, cameras, tmp_path / f"{m}.log", env=env) for m in ("ingest", "analyzer")]
        port = free_port()
        runs.append(ServiceRun("gateway", bus.url, cameras, tmp_path / "gateway.log", "--host", "127.0.0.1",
                               "--port", str(port), env=env))  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: gateway_answers(base), 30.0, what="the gateway")
            wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["status"] == "streaming", 20.0)
            wait_until(lambda: web.get(f"{base}/api/cameras/2").json()["lastError"], 20.0)
            answers = [web.get(f"{base}{path}").text for path in (
                "/api/cameras", "/api/cameras/1", "/api/cameras/2", "/api/streams/status", "/api/system", "/metrics",
                "/readyz", "/api/events", "/api/users", "/api/audit", "/api/auth/tokens", "/openapi.json",
            )]  # fmt: skip
            processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
            records = _records(bus.url)
        finally:
            for run in runs:
                run.stop()
        web.forget(base)
        logs = "".join(run.log_text() for run in runs)
    places = {"responses": "".join(answers), "ps": processes, "status records": records, "logs": logs}
    for secret in (camera_password, "R3dis-Pw-7c2a", database_password, ADMIN_PASSWORD):
        for name, text in places.items():
            assert secret not in text, f"a password in {name}"
    assert "***@127.0.0.1" in places["responses"] + places["status records"]


async def test_a_flood_of_wrong_logins_keeps_real_logins_quick_and_forged_addresses_count_as_one(
    gateway: Callable[..., str],
) -> None:
    """200 wrong logins at once, from one address forging a different X-Forwarded-For on each
    (believed from no proxy unless CAMSTREAM_TRUSTED_PROXIES says so): at most 5 passwords are
    checked, and real logins from elsewhere answer within 2 s meanwhile."""
    base = gateway(None)

    def client_from(address: str) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        return httpx.AsyncClient(base_url=base, headers={"Origin": base}, transport=transport, timeout=60)

    async with client_from("127.0.0.5") as owner, client_from("127.0.0.6") as vera, client_from("127.0.0.1") as flood:
        admin = {"username": "admin", "password": ADMIN_PASSWORD}
        assert (await owner.post("/api/auth/login", json=admin)).status_code == 200  # a browser known to camstream
        vera_login = {"username": "vera", "password": "viewer-Passw0rd"}
        made = await owner.post("/api/users", json={**vera_login, "role": "viewer"})
        assert made.status_code == 201, made.text

        async def wrong(i: int) -> int:
            name = "admin" if i % 2 else f"guess{i}"
            reply = await flood.post("/api/auth/login", json={"username": name, "password": f"wrong-{i}-Passw0rd"},
                                     headers={"X-Forwarded-For": f"2001:db8::{i:x}"})  # fmt: skip
            return reply.status_code

        async def timed(client: httpx.AsyncClient, credentials: dict[str, str]) -> tuple[int, float]:
            await asyncio.sleep(0.2)  # while the flood arrives
            started = time.monotonic()
            reply = await client.post("/api/auth/login", json=credentials)
            return reply.status_code, time.monotonic() - started

        *statuses, (owner_status, owner_s), (vera_status, vera_s) = await asyncio.gather(
            *(wrong(i) for i in range(200)), timed(owner, admin),
            timed(vera, vera_login),
        )  # fmt: skip
        assert statuses.count(401) <= 5 and statuses.count(429) >= 195, sorted(set(statuses))
        assert (owner_status, vera_status) == (200, 200)
        assert owner_s < 2.0 and vera_s < 2.0, (owner_s, vera_s)


def test_a_request_head_past_64_kib_is_refused_with_431(gateway: Callable[..., str]) -> None:
    base = gateway(None)
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        with contextlib.suppress(OSError):  # the gateway may close while the rest is still being sent
            for _ in range(40):  # 1.6 MB of headers, 40 KiB at a time
                connection.sendall(b"X-Filler: " + b"a" * 40_000 + b"\r\n")
        answer = connection.recv(200)
    assert answer.startswith(b"HTTP/1.1 431"), answer
    assert httpx.get(f"{base}/healthz").status_code == 200  # and the gateway goes on


def test_a_gateway_on_the_network_serves_https_by_itself(redis_url: str, tmp_path: Path, _data_dir: Path) -> None:
    """Listening beyond loopback without a certificate of its own, the gateway makes one and serves
    HTTPS (with HSTS and a Secure cookie); CAMSTREAM_TLS=off is plain HTTP, and says so."""
    port = free_port()
    gateway = ServiceRun("gateway", redis_url, None, tmp_path / "gateway-auto.log", "--host", "0.0.0.0",
                         "--port", str(port), env=LOOPBACK)  # fmt: skip
    try:
        base = f"https://127.0.0.1:{port}"
        wait_until(lambda: gateway_answers(base), 60.0, what="the gateway over HTTPS")
        assert (_data_dir / "tls" / "cert.pem").exists() and (_data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0
        client = httpx.Client(base_url=base, headers={"Origin": base}, verify=False)
        login = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200 and "; Secure" in login.headers["set-cookie"]
        assert login.headers["strict-transport-security"] == "max-age=31536000"
        client.close()
        check = _cli("--check", "--port", str(port))
        assert check.returncode == 0, check.stdout  # the health check finds the HTTPS by itself
        assert "SHA-256" in gateway.log_text() and "camstream's own certificate" in gateway.log_text()
    finally:
        gateway.stop()
    port = free_port()
    plain = ServiceRun("gateway", redis_url, None, tmp_path / "gateway-plain.log", "--host", "0.0.0.0",
                       "--port", str(port), env={**LOOPBACK, "CAMSTREAM_TLS": "off"})  # fmt: skip
    try:
        wait_until(lambda: gateway_answers(f"http://127.0.0.1:{port}"), 60.0, what="the gateway over plain HTTP")
        assert "passwords cross the network in clear" in plain.log_text()
    finally:
        plain.stop()
