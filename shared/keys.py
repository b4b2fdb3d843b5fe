"""Every Redis key name camstream uses, built here and nowhere else.

All keys share one prefix so that a Redis used by other software too stays readable
(`redis-cli --scan --pattern 'camstream:*'`). docs/redis-contract.md describes each key.
"""

PREFIX = "camstream"

# Field of a frame stream entry that holds the msgpack envelope (shared.messages.FrameMessage).
FRAME_FIELD = "msg"


def frame_stream(camera_id: int) -> str:
    """Stream of JPEG frames of one camera, written by its ingest process, trimmed to ~2 s."""
    return f"{PREFIX}:camera:{camera_id}:frames"


def camera_status(camera_id: int) -> str:
    """JSON status record of one camera's ingest process (shared.status.CameraStatus), with a TTL."""
    return f"{PREFIX}:camera:{camera_id}:status"


def ingest_heartbeat() -> str:
    """Heartbeat of the ingest manager, with a TTL; `python -m ingest --check` reads it."""
    return f"{PREFIX}:ingest:heartbeat"
