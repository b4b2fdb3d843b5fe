"""Frames of the clock RTSP server (tests/support/rtsp_server.py --clock): the painted time, and
the camera's frames decoded straight from its RTSP stream, by painted time, to compare with."""

from __future__ import annotations

import threading

import av
import numpy as np

from ingest.rtsp.client import RtspClient
from ingest.rtsp.depacketize import Depacketizer


def painted_ms(luma: np.ndarray) -> int:
    """The milliseconds the clock server painted into a frame (32 blocks in the top band)."""
    block = luma.shape[1] // 32
    return int("".join("1" if luma[16, i * block + block // 2] > 128 else "0" for i in range(32)), 2)


def read_reference(url: str, stop: threading.Event, found: dict[int, np.ndarray]) -> None:
    """Decode the camera's stream straight from RTSP into `found` (luma by painted time) until `stop`."""
    client = RtspClient(url, 5, 3)
    try:
        track = client.open()[0]
        assert track.codec is not None
        depacketizer = Depacketizer(track.codec, track.parameter_sets())
        decoder = av.CodecContext.create(track.codec, "r")
        for packet in client.packets():
            for unit in depacketizer.push(packet.payload, packet.sequence, packet.timestamp, packet.marker):
                for frame in decoder.decode(av.Packet(unit.data)):  # type: ignore[attr-defined]
                    luma = frame.to_ndarray(format="gray")
                    found[painted_ms(luma)] = luma
            if stop.is_set():
                return
    finally:
        client.close()
