"""Every Redis key name camstream uses, built here and nowhere else.

All keys share one prefix so that a Redis used by other software too stays readable
(`redis-cli --scan --pattern 'camstream:*'`). docs/redis-contract.md describes each key.
"""

PREFIX = "camstream"

# The field of a stream entry that holds its message (shared.messages.entry_payload reads them).
FRAME_FIELD = "msg"  # frame streams: the msgpack FrameMessage
DETECTIONS_FIELD = "detections"  # detections streams: the msgpack FrameDetections
EVENT_FIELD = "event"  # the events history stream: the JSON Event
PACKET_FIELD = "au"  # packet streams: the msgpack PacketMessage (shared.packets)


def frame_stream(camera_id: int) -> str:
    """Stream of JPEG frames of one camera, written by its ingest process, trimmed to ~2 s."""
    return f"{PREFIX}:camera:{camera_id}:frames"


def frames_wanted(camera_id: int) -> str:
    """Set (with a TTL, refreshed while they read) by whoever reads a camera's frame stream at the
    camera's full rate (a gateway's MJPEG clients and shared transcoder); without it, ingest encodes
    JPEG only at the analysis rate."""
    return f"{PREFIX}:camera:{camera_id}:frames_wanted"


def packets_wanted(camera_id: int) -> str:
    """Set (with a TTL, refreshed while they read) by whoever reads a camera's packet stream (a
    gateway's passthrough feed); without it, ingest relays nothing to Redis (it still records)."""
    return f"{PREFIX}:camera:{camera_id}:packets_wanted"


def packet_stream(camera_id: int) -> str:
    """Stream of one camera's own access units (main stream, compressed), written by its ingest
    process, trimmed by time to at least its last keyframe."""
    return f"{PREFIX}:camera:{camera_id}:packets"


def audio_stream(camera_id: int) -> str:
    """Stream of one camera's audio as it sent it (shared.packets.AudioMessage), written by its
    ingest process, trimmed to a few seconds."""
    return f"{PREFIX}:camera:{camera_id}:audio"


def camera_status(camera_id: int) -> str:
    """JSON status record of one camera's ingest process (shared.status.CameraStatus), with a TTL."""
    return f"{PREFIX}:camera:{camera_id}:status"


def ingest_hosts() -> str:
    """Sorted set of live ingest hosts' names scored by their last heartbeat (Unix time)."""
    return f"{PREFIX}:ingest:hosts"


def ingest_host(host: str) -> str:
    """JSON record of one ingest host (shared.ingest_hosts.IngestHost), with the lease TTL."""
    return f"{PREFIX}:ingest:host:{host}"


def ingest_lease(camera_id: int) -> str:
    """Which ingest host runs the camera: its name, with a TTL its camera process renews (ingest.leases)."""
    return f"{PREFIX}:camera:{camera_id}:ingest"


def ingest_sizes() -> str:
    """Hash camera id -> "WxH": the size each camera's decoded stream was last seen at (its weight, ingest.shares)."""
    return f"{PREFIX}:ingest:sizes"


def detections_stream(camera_id: int) -> str:
    """Stream of per-frame analysis results of one camera (shared.detections.FrameDetections)."""
    return f"{PREFIX}:camera:{camera_id}:detections"


def camera_lease(camera_id: int) -> str:
    """Which analyzer worker analyses the camera: its worker id, with a TTL the owner renews."""
    return f"{PREFIX}:camera:{camera_id}:analyzer"


def analyzer_workers() -> str:
    """Sorted set of analyzer worker ids scored by their last heartbeat (Unix time)."""
    return f"{PREFIX}:analyzer:workers"


def analyzer_status(worker_id: str) -> str:
    """JSON status of one analyzer worker (shared.status.WorkerStatus), with a TTL."""
    return f"{PREFIX}:analyzer:worker:{worker_id}"


EVENTS_CHANNEL = f"{PREFIX}:events"  # pub/sub: every event of every camera
EVENTS_STREAM = f"{PREFIX}:events:history"  # capped stream of every event message


def camera_events_channel(camera_id: int) -> str:
    """Pub/sub channel of one camera's events."""
    return f"{PREFIX}:events:camera:{camera_id}"


def webrtc_session_counter() -> str:
    """Counter behind WebRTC session ids `{camera_id}_{n}`: shared, so two gateways never collide."""
    return f"{PREFIX}:webrtc:session_counter"


def bridge_status() -> str:
    """JSON status of the bridge and its targets (bridge/service.py), with a TTL; /api/system shows it."""
    return f"{PREFIX}:bridge:status"


def tamper_reference(camera_id: int) -> str:
    """The camera's normal view as the tamper detector last knew it (shared.tamper_reference), so the
    worker that takes the camera next judges against the same view; no TTL (Redis may lose it: the
    view is then learnt again)."""
    return f"{PREFIX}:camera:{camera_id}:tamper_reference"


def tamper_relearn(camera_id: int) -> str:
    """When the owner last said "this is the new normal" (unix seconds, set by the gateway): the worker
    analysing the camera learns its view again once for each newer value."""
    return f"{PREFIX}:camera:{camera_id}:tamper_relearn"


def zone_occupancy(camera_id: int) -> str:
    """JSON: how many tracks are in each of the camera's zones now (shared.status.ZoneOccupancy), with a TTL."""
    return f"{PREFIX}:camera:{camera_id}:occupancy"


def recorder_duties() -> str:
    """Which recorder does the system's once-only work (camera health events, event retention): its
    name, with a TTL it renews every pass (recorder.duties)."""
    return f"{PREFIX}:recorder:duties"
