"""Home Assistant MQTT discovery: the configs that make each camera a device with its entities.

Topics are `<discovery prefix>/<component>/<node>/<camera>_<entity>/config` with `<node>` the MQTT
prefix made safe, so one subscription (`<discovery prefix>/+/<node>/+/config`) finds every config
this bridge ever announced, and those of cameras that are gone can be cleared after a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Device:
    """What a camera is announced as: its name, the object labels it reports besides people, and the
    names of its lines and zones (analysis.lines, analysis.zones)."""

    name: str
    labels: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()


def node_of(prefix: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", prefix)


def config_topic(discovery_prefix: str, prefix: str, component: str, camera_id: int, entity: str) -> str:
    return f"{discovery_prefix}/{component}/{node_of(prefix)}/{camera_id}_{entity}/config"


def camera_of_topic(topic: str) -> int | None:
    """The camera id in a config topic, or None."""
    object_id = topic.rsplit("/", 2)[-2] if topic.count("/") >= 2 else ""
    head = object_id.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def slug(label: str) -> str:
    """An object label as a topic level and entity id ("traffic light" -> traffic_light)."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def configs(discovery_prefix: str, prefix: str, camera_id: int, camera: Device) -> dict[str, dict[str, Any]]:
    """Every config topic of one camera and its JSON payload: the object labels it reports besides
    people (its `analysis.objects`) each a binary sensor and a count; each line's crossings each way
    since midnight, and each zone's occupancy, a sensor."""
    node = node_of(prefix)
    base = f"{prefix}/{camera_id}"
    device = {"identifiers": [f"{node}_{camera_id}"], "name": camera.name, "manufacturer": "camstream",
              "model": "Camera"}  # fmt: skip
    availability = [{"topic": f"{prefix}/available"}]

    def entity(entity_id: str, title: str, **fields: Any) -> dict[str, Any]:
        unique = f"{node}_{camera_id}_{entity_id}"
        return {"name": title, "unique_id": unique, "object_id": unique, "device": device,
                "availability": availability, **fields}  # fmt: skip

    counted = "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}"
    on_off = {"payload_on": "ON", "payload_off": "OFF"}
    found = {
        ("binary_sensor", "motion"): entity(
            "motion", "Motion", state_topic=f"{base}/motion", device_class="motion", **on_off
        ),
        ("sensor", "person_count"): entity(
            "person_count",
            "Person count",
            state_topic=f"{base}/person",
            state_class="measurement",
            unit_of_measurement="people",
            icon="mdi:account-group",
        ),
        ("sensor", "status"): entity("status", "Stream status", state_topic=f"{base}/status", icon="mdi:cctv"),
        # ON while a health event of the camera is open (offline, recording stopped); its attributes say which.
        ("binary_sensor", "problem"): entity(
            "problem",
            "Problem",
            state_topic=f"{base}/problem",
            device_class="problem",
            json_attributes_topic=f"{base}/problem/attributes",
            **on_off,
        ),
        ("camera", "snapshot"): entity("snapshot", "Latest event", topic=f"{base}/snapshot"),
    }
    # People and faces in view: ON while the count on their topic is above 0.
    for kind, title in (("person", "Person"), ("face", "Face")):
        found[("binary_sensor", kind)] = entity(kind, title, state_topic=f"{base}/{kind}", value_template=counted,
                                                device_class="occupancy", **on_off)  # fmt: skip
    for label in camera.labels:
        level = slug(label)
        found[("binary_sensor", level)] = entity(
            level, label.capitalize(), state_topic=f"{base}/{level}", value_template=counted,
            device_class="occupancy", **on_off,
        )  # fmt: skip
        found[("sensor", f"{level}_count")] = entity(
            f"{level}_count", f"{label.capitalize()} count", state_topic=f"{base}/{level}", state_class="measurement",
            icon="mdi:counter",
        )  # fmt: skip
    for line in camera.lines:
        for way in ("in", "out"):
            found[("sensor", f"line_{slug(line)}_{way}")] = entity(
                f"line_{slug(line)}_{way}", f"{line} {way}", state_topic=f"{base}/lines/{line}/{way}",
                state_class="total_increasing", icon="mdi:counter",
            )  # fmt: skip
    for zone in camera.zones:
        found[("sensor", f"zone_{slug(zone)}_occupancy")] = entity(
            f"zone_{slug(zone)}_occupancy", f"{zone} occupancy", state_topic=f"{base}/zones/{zone}/occupancy",
            state_class="measurement", icon="mdi:account-group",
        )  # fmt: skip
    for command, title, icon in (
        ("detect", "Detection", "mdi:motion-sensor"),
        ("record", "Recording", "mdi:record-rec"),
    ):
        found[("switch", command)] = entity(
            command, title, state_topic=f"{base}/{command}/state", command_topic=f"{base}/{command}/set",
            state_on="ON", state_off="OFF", icon=icon, **on_off,
        )  # fmt: skip
    return {config_topic(discovery_prefix, prefix, c, camera_id, e): body for (c, e), body in found.items()}
