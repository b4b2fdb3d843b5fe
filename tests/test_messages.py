"""The frame message's wire format, pinned by a golden sample, and its refusal of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack
import pytest

from shared.detections import Box, DetectedObject, Event, EventPhase, EventType, FrameDetections
from shared.messages import FrameMessage, MessageError
from shared.packets import AudioMessage, PacketMessage
from shared.status import CameraState, CameraStatus

GOLDEN = Path(__file__).with_name("golden") / "frame_v1.msgpack"
SAMPLE = FrameMessage(
    camera_id=3, seq=42, captured_at_s=1795000000.25, width=640, height=360, jpeg=b"\xff\xd8jpeg\xff\xd9"
)


def test_encoding_matches_the_golden_sample() -> None:
    assert SAMPLE.encode() == GOLDEN.read_bytes()
    assert FrameMessage.decode(GOLDEN.read_bytes()) == SAMPLE


def test_decoder_ignores_fields_added_later_in_version_1() -> None:
    fields = msgpack.unpackb(SAMPLE.encode())
    fields["added_later"] = {"anything": 1}
    assert FrameMessage.decode(msgpack.packb(fields)) == SAMPLE


def _with(**changes: object) -> bytes:
    fields = msgpack.unpackb(SAMPLE.encode())
    fields.update(changes)
    return msgpack.packb({k: v for k, v in fields.items() if v is not _DROP})


_DROP = object()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not msgpack"),
        (b"\xc1garbage", "not msgpack"),
        (msgpack.packb([3, 42, 1.0, 640, 360, b"x"]), "expected a map"),
        (_with(v=2), "unsupported version 2"),
        (_with(v=0), "unsupported version 0"),
        (_with(seq=_DROP), "missing field 'seq'"),
        (_with(width="640"), "field 'width'"),
        (_with(camera_id=True), "field 'camera_id'"),
        (_with(jpeg="text"), "field 'jpeg'"),
        (_with(jpeg=b""), "empty jpeg"),
        (_with(height=0), "bad size"),
        (_with(seq=-1), "negative seq"),
    ],
)
def test_malformed_frames_raise_one_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        FrameMessage.decode(data)


def test_status_record_round_trips_and_refuses_garbage() -> None:
    status = CameraStatus(
        camera_id=1, state=CameraState.STREAMING, fps=15.0, frames_sent=10, frames_dropped=2, frames_failed=0,
        reconnects=1, last_error=None, last_frame_at_s=1.5, updated_at_s=2.0, source="rtsp://***@cam/x",
    )  # fmt: skip
    assert CameraStatus.decode(status.encode()) == status
    for garbage in (b"{", b"[]", b'{"v": 9}', b'{"v": 1, "state": "nonsense"}'):
        with pytest.raises(MessageError):
            CameraStatus.decode(garbage)


DETECTIONS = FrameDetections(
    camera_id=2, seq=7, captured_at_s=1795000000.5, analysed_at_s=1795000000.625, width=1280, height=720,
    worker="host-1-00001", motion=[Box(10, 20, 30, 40)],
    objects=[
        DetectedObject("person", 0.875, Box(100, 50, 60, 180), 3), DetectedObject("face", 0.75, Box(120, 60, 20, 24))
    ],
)  # fmt: skip
EVENT = Event(
    id="2-0123456789abcdef", camera_id=2, type=EventType.PERSON, phase=EventPhase.END, started_at_s=1795000000.5,
    ended_at_s=1795000004.0, score=0.875, box=Box(100, 50, 60, 180), frames=18, snapshot=True,
    published_at_s=1795000006.0,
)  # fmt: skip
CAR = Event(
    id="2-fedcba9876543210", camera_id=2, type=EventType.OBJECT, phase=EventPhase.END, started_at_s=1795000100.5,
    ended_at_s=1795000140.0, score=0.8125, box=Box(300, 200, 240, 120), frames=40, snapshot=True,
    published_at_s=1795000140.25, label="car", stationary=True,
)  # fmt: skip


def test_detections_and_events_match_their_golden_samples() -> None:
    golden = Path(__file__).with_name("golden")
    assert DETECTIONS.encode() == (golden / "detections_v1.msgpack").read_bytes()
    assert FrameDetections.decode((golden / "detections_v1.msgpack").read_bytes()) == DETECTIONS
    # Written before events had labels: a person event's label is its type's.
    assert Event.decode((golden / "event_v1.json").read_text()) == EVENT and EVENT.label == "person"
    assert Event.decode(EVENT.encode()) == EVENT
    assert CAR.encode() == (golden / "event_v1_object.json").read_text().strip()
    assert Event.decode((golden / "event_v1_object.json").read_text()) == CAR


def test_an_object_event_has_its_label_and_ends_stationary_and_older_fields_stay() -> None:
    record = json.loads(CAR.encode())
    assert record["type"] == "object" and record["label"] == "car" and record["stationary"] is True
    assert "stationary" not in EVENT.encode(), "absent when false"
    for bad in ('"label":"car"', '"stationary":true'):
        with pytest.raises(MessageError):
            Event.decode(CAR.encode().replace(bad, bad.split(":")[0] + ":42"))


def test_a_recording_gap_says_why_and_older_events_stay_as_they_were() -> None:
    gap = Event("3-00000000000000aa", 3, EventType.RECORDING_GAP, EventPhase.START, 1795000000.0, None, None, None, 0,
                False, 1795000000.1, reason="disk full")  # fmt: skip
    record = json.loads(gap.encode())
    assert record["type"] == "recording_gap" and record["reason"] == "disk full" and gap.type.is_health
    assert Event.decode(gap.encode()) == gap
    assert "reason" not in EVENT.encode() and not EVENT.type.is_health  # absent when None: the bytes unchanged
    with pytest.raises(MessageError):
        Event.decode(gap.encode().replace('"disk full"', "42"))


def test_an_event_of_a_recognised_face_carries_the_name_and_older_readers_see_none() -> None:
    named = Event(**{**{f: getattr(EVENT, f) for f in Event.__dataclass_fields__}, "type": EventType.FACE,
                     "identity": "Alice", "similarity": 0.71})  # fmt: skip
    assert Event.decode(named.encode()) == named and '"identity":"Alice"' in named.encode()
    assert "identity" not in EVENT.encode()  # absent when None: version 1's bytes are unchanged
    with pytest.raises(MessageError):
        Event.decode(named.encode().replace('"Alice"', "42"))


@pytest.mark.parametrize(
    "data",
    [
        b"\x93\x01\x02\x03",
        msgpack.packb({"v": 2}),
        msgpack.packb({**msgpack.unpackb(DETECTIONS.encode()), "objects": [{"label": "person"}]}),
        msgpack.packb({**msgpack.unpackb(DETECTIONS.encode()), "motion": [[1, 2, 3, 4]]}),
    ],
)
def test_malformed_detections_raise_message_error(data: bytes) -> None:
    with pytest.raises(MessageError):
        FrameDetections.decode(data)


@pytest.mark.parametrize("text", ["", "[]", '{"v": 1}', EVENT.encode().replace('"person"', '"dragon"')])
def test_malformed_events_raise_message_error(text: str) -> None:
    with pytest.raises(MessageError):
        Event.decode(text)


PACKET_GOLDEN = Path(__file__).with_name("golden") / "packet_v1.msgpack"
PACKET = PacketMessage(camera_id=3, seq=7, codec="h264", keyframe=True, pts_s=12.5, captured_at_s=1795000000.25,
                       data=b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x65idr")  # fmt: skip


def test_the_packet_message_matches_its_golden_sample_and_refuses_bad_input() -> None:
    assert PACKET.encode() == PACKET_GOLDEN.read_bytes()
    assert PacketMessage.decode(PACKET_GOLDEN.read_bytes()) == PACKET
    fields = msgpack.unpackb(PACKET.encode())
    for change in ({"v": 2}, {"codec": "vp8"}, {"keyframe": 1}, {"data": b"no start code"}, {"seq": "7"}):
        with pytest.raises(MessageError):
            PacketMessage.decode(msgpack.packb({**fields, **change}))
    assert PacketMessage.decode(msgpack.packb({**fields, "later": 1})) == PACKET


AUDIO_GOLDEN = Path(__file__).with_name("golden") / "audio_v1.msgpack"
AUDIO = AudioMessage(camera_id=3, seq=9, codec="aac", sample_rate=16000, channels=1, config=bytes.fromhex("1408"),
                     pts_s=1.25, captured_at_s=1795000000.5, data=b"\x21\x10aac")  # fmt: skip


def test_the_audio_message_matches_its_golden_sample_and_refuses_bad_input() -> None:
    assert AUDIO.encode() == AUDIO_GOLDEN.read_bytes()
    assert AudioMessage.decode(AUDIO_GOLDEN.read_bytes()) == AUDIO
    fields = msgpack.unpackb(AUDIO.encode())
    for change in ({"v": 2}, {"codec": "mp3"}, {"channels": 0}, {"sample_rate": -1}, {"config": "1408"}):
        with pytest.raises(MessageError):
            AudioMessage.decode(msgpack.packb({**fields, **change}))
