"""Probe an RTSP camera before adding it: what it sends (codec, size, frame rate, keyframe interval,
audio), or why it cannot be read. `python -m ingest probe` reads the URL from its standard input
(never the command line, which `ps` shows) and prints one JSON object; the gateway runs it as a
child process, so a hostile or broken server can cost a probe, never the gateway.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import av

from ingest.rtsp.client import RtspClient, RtspError
from ingest.rtsp.units import StreamUnits
from ingest.segments import picture_size
from shared.redact import mask_credentials

OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 3.0
LISTEN_S = 9.0  # long enough for two keyframe intervals of 4 s


def probe(url: str, open_timeout_s: float = OPEN_TIMEOUT_S, listen_s: float = LISTEN_S) -> dict[str, Any]:
    """{"ok": true, "codec", "width", "height", "fps", "keyframeIntervalS", "audio", "tlsFingerprint"} or
    {"ok": false, "reason"}. The fingerprint (rtsps) is what a camera's `tls_fingerprint` pins."""
    try:
        client = RtspClient(url, open_timeout_s, READ_TIMEOUT_S)
    except RtspError as e:
        return {"ok": False, "reason": str(e)}
    try:
        tracks = client.open(("video", "audio"))
        video = tracks[0]
        audio = next((t.codec or t.encoding for t in tracks if t.kind == "audio"), None)
        keyframes: list[float] = []
        times: list[float] = []
        size: tuple[int, int] | None = None
        deadline = time.monotonic() + listen_s
        for unit, pts_s, _received in StreamUnits(client).video():
            if unit.keyframe:
                keyframes.append(pts_s)
                if size is None:
                    size = picture_size(unit.codec, unit.data)
            if keyframes:
                times.append(pts_s)
            if len(keyframes) >= 3 or time.monotonic() > deadline:
                break
    except RtspError as e:
        return {"ok": False, "reason": mask_credentials(str(e))}
    except (av.FFmpegError, ValueError) as e:
        return {"ok": False, "reason": f"the camera's video does not decode: {type(e).__name__}"}
    finally:
        client.close()
    if size is None:
        return {"ok": False, "reason": f"no keyframe in {listen_s:g} s: not a usable video stream"}
    span = times[-1] - times[0]
    return {
        "ok": True, "codec": video.codec, "width": size[0], "height": size[1],
        "fps": round((len(times) - 1) / span, 2) if span > 0 else None,
        "keyframeIntervalS": round(keyframes[1] - keyframes[0], 3) if len(keyframes) >= 2 else None,
        "audio": audio, "tlsFingerprint": client.tls_fingerprint,
    }  # fmt: skip


def main() -> int:
    url = sys.stdin.readline().strip()
    print(json.dumps(probe(url)), flush=True)
    return 0
