"""Unit tests of logic that only whole-process tests reached before: the gateway's fan-out (drop
policy, a failing source), webhook signing and retries, notification cool-downs and titles, the
MQTT states derived from events and detections. Real parts where they exist (a loopback HTTP
receiver, apprise's json:// sender, the test's redis-server), each case in a second or two."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from bridge.mqtt import MqttTarget
from bridge.notify import NotifyTarget, title_of
from bridge.states import CameraStates
from bridge.target import Delivery
from bridge.webhooks import WebhookTarget, signature
from gateway.bus.fanout import Fanout, Listener, TooManyListeners
from shared import keys
from shared.cameras import Camera
from shared.detections import Box, DetectedObject, Event, EventPhase, EventType, FrameDetections
from shared.integrations import NotifyDefinition, WebhookDefinition
from shared.outbound import OutboundPolicy
from shared.settings import Settings
from tests.support.receiver import Receiver

LOOPBACK_ALLOWED = OutboundPolicy.of(allow="127.0.0.1/32")
SECRET = "s3cret-s3cret-s3cret"


def event(kind: EventType = EventType.PERSON, phase: EventPhase = EventPhase.START, camera_id: int = 1,
          **extra: object) -> Event:  # fmt: skip
    now = time.time()
    return Event(f"e-{kind}-{now}", camera_id, kind, phase, now, None if phase is EventPhase.START else now + 1,
                 0.9, None, 3, False, now, **extra)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


# --- fan-out -----------------------------------------------------------------------------------


def test_a_slow_listener_loses_its_oldest_items_counted() -> None:
    listener: Listener[int] = Listener(3)
    for item in range(5):
        listener.offer(item)
    assert listener.dropped == 2
    assert [listener.queue.get_nowait() for _ in range(3)] == [2, 3, 4]


async def test_a_fanout_hands_every_item_to_every_listener_and_caps_listeners() -> None:
    items = asyncio.Queue[int]()

    async def source(fanout: Fanout[int]) -> None:
        while True:
            fanout.publish(await items.get())

    fanout = Fanout[int]("numbers", source, queue_size=10, max_listeners=2)
    first, second = fanout.listen(), fanout.listen()
    with pytest.raises(TooManyListeners):
        fanout.listen()
    for n in range(3):
        items.put_nowait(n)
    assert [await asyncio.wait_for(first.get(), 1) for _ in range(3)] == [0, 1, 2]
    assert [await asyncio.wait_for(second.get(), 1) for _ in range(3)] == [0, 1, 2]
    fanout.leave(second)
    fanout.listen()  # a place is free again
    await fanout.close()


async def test_a_failing_source_is_restarted_and_listeners_see_only_a_pause() -> None:
    runs = 0

    async def source(fanout: Fanout[str]) -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ConnectionError("Redis away")
        fanout.publish("back")
        await asyncio.Event().wait()

    fanout = Fanout[str]("flaky", source, queue_size=4, max_listeners=4)
    listener = fanout.listen()
    assert await asyncio.wait_for(listener.get(), 3) == "back"
    assert fanout.failures == 2 and runs == 3
    await fanout.close()


# --- webhooks ----------------------------------------------------------------------------------


async def no_snapshot(_event: Event) -> bytes | None:
    return None


def delivery(outbound: OutboundPolicy = LOOPBACK_ALLOWED, camera: str = "Yard") -> Delivery:
    return Delivery(None, lambda _c: camera, no_snapshot, lambda: False, outbound)


def _webhook(url: str, retry_s: float) -> WebhookTarget:
    return WebhookTarget("webhook:1", "hook", WebhookDefinition(url=url, secret=SECRET), retry_s, delivery())


async def test_a_webhook_is_signed_with_hmac_sha256_of_its_exact_body(receiver: Receiver) -> None:
    target = _webhook(receiver.url, retry_s=5)
    try:
        assert await target.deliver(event())
    finally:
        await target.close()
    [posted] = receiver.delivered()
    headers = {k.lower(): v for k, v in posted.headers.items()}
    expected = "sha256=" + hmac.new(SECRET.encode(), posted.body, hashlib.sha256).hexdigest()
    assert headers["x-camstream-signature"] == expected == signature(SECRET, posted.body)
    body = json.loads(posted.body)
    assert headers["x-camstream-delivery"] == body["delivery"] == f"{body['event']['id']}:start"
    assert target.status.delivered == 1 and target.status.failures == 0


async def test_a_failing_webhook_is_retried_with_backoff_then_delivered(receiver: Receiver) -> None:
    receiver.fail_first = 2  # answers 500 twice: retried after 1 s, then 2 s
    target = _webhook(receiver.url, retry_s=30)
    try:
        assert await target.deliver(event())
    finally:
        await target.close()
    posts = receiver.posts
    assert [p.answered for p in posts] == [500, 500, 200]
    gaps = [later.at_s - earlier.at_s for earlier, later in itertools.pairwise(posts)]
    assert 0.9 < gaps[0] < 1.6 and 1.9 < gaps[1] < 2.6, gaps
    assert target.status.failures == 2 and target.status.delivered == 1 and target.status.given_up == 0


async def test_a_webhook_gives_up_when_the_next_retry_would_pass_its_window(receiver: Receiver) -> None:
    receiver.fail_first = 10
    target = _webhook(receiver.url, retry_s=0.5)  # the first retry (1 s) is already past it
    try:
        assert await target.deliver(event())  # given up counts as handled: the cursor moves on
    finally:
        await target.close()
    assert len(receiver.posts) == 1
    assert target.status.given_up == 1 and target.status.last_error == "answered 500"


async def test_a_webhook_to_a_denied_address_is_refused_without_a_request(receiver: Receiver) -> None:
    definition = WebhookDefinition(url=receiver.url, secret=SECRET)
    target = WebhookTarget("webhook:2", "hook", definition, 30, delivery(OutboundPolicy.of()))  # loopback denied
    try:
        assert await target.deliver(event())
    finally:
        await target.close()
    assert receiver.posts == []
    assert target.status.given_up == 1 and (target.status.last_error or "").startswith("refused")


# --- notifications -----------------------------------------------------------------------------


def _notifier(url: str, cooldown_s: float) -> NotifyTarget:
    json_url = url.replace("http://", "json://")  # apprise's JSON POST: a real sender to our receiver
    definition = NotifyDefinition(url=json_url, phases=["start", "end"])
    return NotifyTarget("notify:1", "phone", definition, cooldown_s, delivery(camera="Garage"))


@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")  # inside apprise, Python 3.11
async def test_a_notification_cooldown_is_per_camera_and_never_hides_a_health_event(receiver: Receiver) -> None:
    target = _notifier(receiver.url, cooldown_s=60)
    assert await target.deliver(event(camera_id=1))
    assert await target.deliver(event(camera_id=1))  # within the cool-down: skipped, counted
    assert await target.deliver(event(camera_id=2))  # another camera: its own cool-down
    assert await target.deliver(event(EventType.RECORDING_GAP, camera_id=1, reason="disk full"))
    titles = [json.loads(p.body)["title"] for p in receiver.delivered()]
    assert titles == ["camstream: Person at Garage", "camstream: Person at Garage",
                      "camstream: Recording stopped at Garage (disk full)"]  # fmt: skip
    assert target.status.skipped == 1 and target.status.delivered == 3


def test_titles_say_what_was_seen_where() -> None:
    assert title_of(event(EventType.OBJECT, label="car"), "Drive") == "Car at Drive"
    assert title_of(event(EventType.OBJECT, EventPhase.END, label="car", stationary=True), "Drive") == (
        "Car at Drive stopped"
    )
    assert title_of(event(EventType.MOTION, EventPhase.END), None) == "Motion at camera 1 ended"
    assert title_of(event(EventType.RECORDING_GAP, EventPhase.END), "Garage") == "Recording resumed at Garage"
    assert title_of(event(EventType.OFFLINE, reason="connection refused"), "Porch") == (
        "Porch is offline (connection refused)"
    )
    assert title_of(event(EventType.OFFLINE, EventPhase.END), "Porch") == "Porch is back online"


# --- MQTT states -------------------------------------------------------------------------------


async def test_mqtt_states_follow_events_and_the_most_seen_in_the_last_second(redis_url: str) -> None:
    """Motion ON/OFF from events; people (and each object label) in view: at least the events open,
    and the most seen in any frame of the last second while one is; 0 when the last ends."""
    settings = Settings(mqtt_url=SecretStr("mqtt://127.0.0.1:1"))  # never connected: states are kept to publish
    mqtt = MqttTarget(settings, lambda *_a: None, lambda _c: "Yard", lambda: False)  # type: ignore[arg-type,return-value]
    client = aioredis.Redis.from_url(redis_url)
    stopping = asyncio.Event()
    states = CameraStates(client, mqtt, no_snapshot, stopping.is_set)
    await states.set_cameras([Camera(id=7, name="Yard", source=SecretStr("demo:yard"))])

    def state(name: str) -> str:
        return mqtt.states[f"{mqtt.prefix}/7/{name}"].decode()

    assert (state("motion"), state("person"), state("car"), state("detect/state")) == ("OFF", "0", "0", "ON")
    running = asyncio.create_task(states.run())
    try:
        await asyncio.sleep(0.2)  # its readers start from now ("$")

        async def publish(event: Event) -> None:
            await client.xadd(keys.EVENTS_STREAM, {keys.EVENT_FIELD: event.encode()})

        async def seen(people: int) -> None:
            boxes = [DetectedObject("person", 0.9, Box(10 * i, 0, 5, 5)) for i in range(people)]
            frame = FrameDetections(7, 1, time.time(), time.time(), 640, 360, "w", objects=boxes)
            await client.xadd(keys.detections_stream(7), {keys.DETECTIONS_FIELD: frame.encode()})

        async def becomes(name: str, value: str) -> None:
            for _ in range(100):
                if state(name) == value:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"{name} is {state(name)}, not {value}")

        motion = event(EventType.MOTION, camera_id=7)
        await publish(motion)
        await becomes("motion", "ON")
        person = event(camera_id=7)
        await publish(person)
        await becomes("person", "1")
        await seen(3)  # three in one frame while the event lasts
        await becomes("person", "3")
        await seen(1)
        await asyncio.sleep(0.3)
        assert state("person") == "3"  # the most in the last second, so one missed frame does not flicker
        await asyncio.sleep(1.0)
        await seen(1)
        await becomes("person", "1")
        await publish(replace(person, phase=EventPhase.END, ended_at_s=time.time()))
        await becomes("person", "0")
        await publish(replace(motion, phase=EventPhase.END, ended_at_s=time.time()))
        await becomes("motion", "OFF")
    finally:
        stopping.set()
        await asyncio.wait_for(running, 5)
        await client.aclose()


async def test_mqtt_problem_is_on_while_a_health_event_is_open(redis_url: str) -> None:
    settings = Settings(mqtt_url=SecretStr("mqtt://127.0.0.1:1"))
    mqtt = MqttTarget(settings, lambda *_a: None, lambda _c: "Yard", lambda: False)  # type: ignore[arg-type,return-value]
    client = aioredis.Redis.from_url(redis_url)
    stopping = asyncio.Event()
    states = CameraStates(client, mqtt, no_snapshot, stopping.is_set)
    await states.set_cameras([Camera(id=8, name="Yard", source=SecretStr("demo:yard"))])
    running = asyncio.create_task(states.run())
    try:
        await asyncio.sleep(0.2)
        offline = event(EventType.OFFLINE, camera_id=8, reason="connection refused")
        gap = event(EventType.RECORDING_GAP, camera_id=8, reason="disk full")
        shown: list[tuple[str, list[str]]] = []
        for message in (offline, gap, replace(offline, phase=EventPhase.END), replace(gap, phase=EventPhase.END)):
            await client.xadd(keys.EVENTS_STREAM, {keys.EVENT_FIELD: message.encode()})
            await asyncio.sleep(0.3)
            attributes = json.loads(mqtt.states["camstream/8/problem/attributes"])
            shown.append((mqtt.states["camstream/8/problem"].decode(), [p["reason"] for p in attributes["problems"]]))
        assert shown == [("ON", ["connection refused"]), ("ON", ["connection refused", "disk full"]),
                         ("ON", ["disk full"]), ("OFF", [])]  # fmt: skip
    finally:
        stopping.set()
        await asyncio.wait_for(running, 5)
        await client.aclose()
