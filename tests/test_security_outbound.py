"""The outbound deny-list (issue 25 finding 9): what the camera probe, webhooks and notification
servers refuse before connecting. No packet is ever sent to a link-local, metadata or private
address here, not even to prove it refused: the refusals happen before any connection, and the
one delivery test denies a receiver of its own on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio

from bridge.target import Delivery
from bridge.webhooks import WebhookTarget
from shared import keys
from shared.detections import Box, Event, EventPhase, EventType
from shared.integrations import WebhookDefinition
from shared.outbound import OutboundDenied, OutboundPolicy
from shared.status import BridgeStatus, TargetStatus
from tests.support.inprocess import api
from tests.support.receiver import Receiver

DENIED_SOURCES = [
    "rtsp://169.254.169.254/latest",  # a cloud's metadata service
    "rtsp://[fe80::1%25eth0]:554/x",
    "rtsp://127.0.0.1:6379/",  # this machine's Redis
    "rtsp://[::ffff:127.0.0.1]:5432/",  # the same, written as IPv6
    "rtsp://localhost:5432/",
    "rtsp://0.0.0.0:554/",
]


async def test_the_probe_refuses_denied_addresses_before_connecting(redis_url: str) -> None:
    async with api(redis_url, outbound_allow="") as http:
        for source in DENIED_SOURCES:
            started = time.monotonic()
            reply = await http.post("/api/cameras/probe", json={"source": source})
            assert reply.status_code == 422 and "outbound deny-list" in reply.text, (source, reply.text)
            assert time.monotonic() - started < 0.5  # refused, not tried
    # The operator's own choice: a restreamer on this machine, allowed by range. (Port 9: nothing there.)
    async with api(redis_url, outbound_allow="127.0.0.1/32") as http:
        reply = await http.post("/api/cameras/probe", json={"source": "rtsp://127.0.0.1:9/x"})
        assert reply.status_code == 422 and "deny-list" not in reply.text and "cannot connect" in reply.text


async def test_webhooks_and_notification_servers_at_denied_addresses_are_refused(redis_url: str) -> None:
    async with api(redis_url, outbound_allow="", outbound_deny="198.51.100.0/24") as http:
        for kind, url in (
            ("webhooks", "http://169.254.169.254/latest/meta-data/"),
            ("webhooks", "http://127.0.0.1:6379/"),
            ("webhooks", "https://[::1]:8443/hook"),
            ("webhooks", "http://198.51.100.7/hook"),  # a range the operator added
            ("notifications", "json://169.254.169.254/x"),
            ("notifications", "jsons://localhost:5432/"),
            ("notifications", "gotify://127.0.0.1/token"),
        ):
            body = {"name": "x", "url": url, **({"secret": "s" * 16} if kind == "webhooks" else {})}
            reply = await http.post(f"/api/{kind}", json=body)
            assert reply.status_code == 422 and "outbound deny-list" in reply.text, (url, reply.text)
        token_url = await http.post("/api/notifications", json={"name": "phone", "url": "tgram://12345:SECRET/67"})
        assert token_url.status_code == 201  # its host part is a token: never looked up, never refused


def _event() -> Event:
    now = time.time()
    return Event(id="1-denied", camera_id=1, type=EventType.MOTION, phase=EventPhase.START, started_at_s=now,
                 ended_at_s=None, score=None, box=Box(0, 0, 10, 10), frames=1, snapshot=False,
                 published_at_s=now)  # fmt: skip


def _delivery(outbound: OutboundPolicy) -> Delivery:
    async def no_snapshot(_event: Event) -> bytes | None:
        return None

    return Delivery(None, lambda _c: "cam", no_snapshot, lambda: False, outbound)


async def test_the_bridge_refuses_a_denied_webhook_at_delivery_and_does_not_retry() -> None:
    """A webhook stored before the deny-list (or whose name now resolves elsewhere) is checked again
    at every delivery: here a receiver of the test's own on loopback, denied."""
    receiver = Receiver()
    try:
        definition = WebhookDefinition(url=receiver.url, secret="s" * 16)
        target = WebhookTarget("webhook:1", "hook", definition, 30.0, _delivery(OutboundPolicy.of()))
        started = time.monotonic()
        assert await target.deliver(_event()) is True  # given up at once: no retry against a refused address
        assert time.monotonic() - started < 1.0
        assert receiver.posts == [] and target.status.given_up == 1
        assert target.status.last_error is not None and "outbound deny-list" in target.status.last_error
        await target.close()
        allowed = WebhookTarget(
            "webhook:2", "hook", definition, 30.0, _delivery(OutboundPolicy.of(allow="127.0.0.1/32"))
        )
        assert await allowed.deliver(_event()) is True and len(receiver.delivered()) == 1
        await allowed.close()
    finally:
        receiver.close()


def test_the_policy_checks_every_form_of_an_address() -> None:
    policy = OutboundPolicy.of(deny="203.0.113.0/24")
    for host in ("169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200", "127.9.9.9", "::ffff:127.0.0.1",
                 "0.0.0.0", "224.0.0.251", "203.0.113.9", "LOCALHOST", "cam.localhost"):  # fmt: skip
        with pytest.raises(OutboundDenied):
            asyncio.run(policy.check_host(host, None, resolve=False))
    asyncio.run(policy.check_host("192.0.2.10", None, resolve=False))  # documentation range: not denied by default
    with pytest.raises(ValueError, match="CAMSTREAM_OUTBOUND_DENY"):
        OutboundPolicy.of(deny="not-a-range")


async def test_the_probe_cannot_scan_a_network(redis_url: str) -> None:
    """20 probes a minute at most, refused ones counted too (a scan of denied ports is a scan), then 429."""
    async with api(redis_url, outbound_allow="") as http:
        statuses = [(await http.post("/api/cameras/probe", json={"source": f"rtsp://127.0.0.1:{9 + i}/x"})).status_code
                    for i in range(21)]  # fmt: skip
        assert statuses[:20] == [422] * 20 and statuses[20] == 429, statuses


async def test_viewers_see_the_bridges_targets_without_where_they_point(redis_url: str) -> None:
    status = TargetStatus("webhook:1", "webhook", "hook (https://hooks.example:8443/***)")
    status.last_error = "answered 403"
    document = BridgeStatus(time.time(), time.time(), [status]).encode()
    async with api(redis_url) as http:
        async with redis.asyncio.Redis.from_url(redis_url) as bus:
            await bus.set(keys.bridge_status(), document, ex=30)
        admin = (await http.get("/api/system")).json()["bridge"]["targets"][0]
        assert admin["label"].startswith("hook (https://hooks.example") and admin["lastError"] == "answered 403"
        await http.post("/api/users", json={"username": "vera", "password": "viewer-Passw0rd", "role": "viewer"})
        await http.post("/api/auth/logout")
        assert (await http.post("/api/auth/login", json={"username": "vera", "password": "viewer-Passw0rd"})
                ).status_code == 200  # fmt: skip
        viewer = (await http.get("/api/system")).json()["bridge"]["targets"][0]
        assert viewer["label"] == "webhook:1" and viewer["lastError"] is None and viewer["failures"] == 0
