"""Security, second pass, on logins (issue 25 findings 1, 5b, 8), in-process against the test's
real Redis and SQLite: a burst checks no more passwords than the limit however concurrent, waits
grow exponentially, a known device logs in while its name is locked by others' guesses, and the
current password cannot be guessed through a password change."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest

from gateway.auth import limiter
from tests.support.inprocess import ADMIN_PASSWORD, ADMIN_USER, BASE, api

LOGIN = "/api/auth/login"


def _client_at(http: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """A client without cookies of the same gateway app, from another address."""
    transport = httpx.ASGITransport(app=http._transport.app, client=(address, 50001))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url=BASE, headers={"Origin": BASE})


def _wrong(name: str = ADMIN_USER) -> dict[str, str]:
    return {"username": name, "password": "not-the-Passw0rd"}


async def test_a_burst_checks_at_most_the_limit_however_concurrent(redis_url: str) -> None:
    async with api(redis_url, login=False) as http:
        attempts = [http.post(LOGIN, json=_wrong()) for _ in range(40)]
        attempts.append(http.post(LOGIN, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}))
        replies = await asyncio.gather(*attempts)
        statuses = [r.status_code for r in replies]
        assert statuses.count(401) + statuses.count(200) <= 5, statuses
        assert statuses.count(429) >= 36
        # Another address, another name: not held up by the first address's guesses at admin.
        async with _client_at(http, "127.0.0.9") as other:
            assert (await other.post(LOGIN, json=_wrong("someone"))).status_code == 401


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_each_failure_past_the_limit_doubles_the_wait(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(limiter, "time", SimpleNamespace(monotonic=clock.monotonic))
    async with api(redis_url, login=False) as http:
        for _ in range(5):
            assert (await http.post(LOGIN, json=_wrong())).status_code == 401
        waits = []
        for _ in range(4):
            refused = await http.post(LOGIN, json=_wrong())
            assert refused.status_code == 429
            waits.append(int(refused.headers["retry-after"]))
            clock.now += waits[-1]
            assert (await http.post(LOGIN, json=_wrong())).status_code == 401  # one more guess, then a longer wait
        assert waits == [60, 120, 240, 480], waits
        clock.now += 3600 + 960  # an hour without failures past the last wait: the count starts again
        assert (await http.post(LOGIN, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})).status_code == 200


async def test_a_known_device_logs_in_while_others_lock_its_name(redis_url: str) -> None:
    async with api(redis_url, login=False) as owner:
        signed = await owner.post(LOGIN, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert signed.status_code == 200 and "camstream_device" in owner.cookies
        cookie = signed.headers.get_list("set-cookie")[-1]
        assert "Path=/api/auth/login" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        for address in ("127.0.0.2", "127.0.0.3"):  # guessers from elsewhere lock the name for new devices
            async with _client_at(owner, address) as guesser:
                for _ in range(5):
                    await guesser.post(LOGIN, json=_wrong())
        async with _client_at(owner, "127.0.0.4") as stranger:
            assert (await stranger.post(LOGIN, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
                    ).status_code == 429  # fmt: skip
            stranger.cookies.set("camstream_device", "enc:v1:gAAAAABforged")
            assert (await stranger.post(LOGIN, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
                    ).status_code == 429  # fmt: skip
        again = await owner.post(LOGIN, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert again.status_code == 200, again.text  # the owner's browser is not locked out


async def test_the_current_password_cannot_be_guessed_through_a_change(redis_url: str) -> None:
    async with api(redis_url) as http:
        change = "/api/auth/password"
        statuses = []
        for _ in range(7):
            reply = await http.post(change, json={"current_password": "guess-Passw0rd", "new_password": "x" * 12})
            statuses.append(reply.status_code)
        assert statuses[:5] == [403] * 5 and statuses[5:] == [429, 429], statuses
