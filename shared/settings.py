"""Process settings, from environment variables prefixed CAMSTREAM_ (and nothing else).

Loaded once in each process's main() and passed down; never read at import time.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where a process looks for Redis when CAMSTREAM_REDIS_URL is unset and it is started alone.
# scripts/run.sh never relies on it: it starts an embedded redis-server and sets the URL.
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def _host_name() -> str:
    """The machine's host name as an ingest host name (its first label, kept to the allowed characters)."""
    label = socket.gethostname().split(".")[0]
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in label).strip("-_")[:63]
    return cleaned or "ingest"


class ConfigError(Exception):
    """The settings or the camera file are unusable; the message says where and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAMSTREAM_", extra="ignore", frozen=True)

    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis to use, redis:// or rediss:// (may hold a password). "
        "Unset: the run script starts an embedded redis-server; a process started alone "
        f"uses {LOCAL_REDIS_URL}.",
    )
    redis_username: str | None = Field(
        default=None, description="Redis ACL user, put into CAMSTREAM_REDIS_URL (instead of writing it there)."
    )
    redis_password: SecretStr | None = Field(
        default=None, description="Redis password, put into CAMSTREAM_REDIS_URL (instead of writing it there)."
    )
    cameras_file: Path | None = Field(
        default=None,
        description="YAML camera file, imported into the database on first start and applied again whenever "
        "it changes; unset means the built-in demo cameras on first start.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="Database of durable state: postgresql://USER:PASSWORD@HOST:PORT/NAME when processes run on "
        "several hosts. Unset: the SQLite file camstream.db in CAMSTREAM_DATA_DIR.",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".local" / "share" / "camstream",
        description="Where durable files live: the SQLite database (when CAMSTREAM_DATABASE_URL is unset).",
    )
    database_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="Longest wait for the database to connect or take a write."
    )
    events_retain_days: float = Field(
        default=30.0, gt=0, le=36500, description="Events and their snapshots older than this are deleted."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Key for camera credentials stored through the API (16 characters or more). Unset: one "
        "generated into CAMSTREAM_DATA_DIR/secret.key (mode 0600). Set it, the same, on every host.",
    )
    camera_registry_url: str | None = Field(
        default=None,
        pattern=r"(?i)^https?://",
        description="An external camera registry (http or https) whose camera list camstream follows.",
    )
    camera_registry_token: SecretStr | None = Field(default=None, description="Bearer token for the registry.")
    camera_registry_interval_s: float = Field(default=30.0, ge=1, le=86400, description="How often to fetch.")
    camera_registry_callback: str = Field(
        default="{url}/{id}",
        description="Where each camera's webrtcUrl is reported (PATCH): {url} is the registry URL, {id} the camera.",
    )
    mqtt_url: SecretStr | None = Field(
        default=None,
        description="MQTT broker for the bridge, mqtt://[user:password@]host[:port] or mqtts://...; unset: no MQTT.",
    )
    mqtt_prefix: str = Field(
        default="camstream", pattern=r"^[A-Za-z0-9_\-/]{1,64}$", description="First level of every MQTT topic."
    )
    mqtt_ha_discovery: bool = Field(default=True, description="Publish Home Assistant discovery configs (with MQTT).")
    mqtt_discovery_prefix: str = Field(
        default="homeassistant", pattern=r"^[A-Za-z0-9_\-/]{1,64}$", description="Home Assistant's discovery prefix."
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"(?i)^https?://",
        description="How others reach the gateway (https://cams.example): makes the snapshot and clip URLs in MQTT, "
        "webhooks and notifications absolute. Unset: paths.",
    )
    bridge_replay_s: float = Field(
        default=300.0, ge=0, le=86400,
        description="After a bridge restart or an outage of a target, events at most this old that it has not "
        "delivered are delivered; older ones are skipped (counted).",
    )  # fmt: skip
    webhook_retry_s: float = Field(
        default=600.0, ge=0, le=86400, description="How long a webhook delivery is retried before it is given up."
    )
    notify_cooldown_s: float = Field(
        default=60.0, ge=0, le=86400, description="Least seconds between two notifications of one camera to a target."
    )
    recordings_dir: Path | None = Field(
        default=None, description="Where recordings are written; unset: `recordings` in CAMSTREAM_DATA_DIR."
    )
    recordings_url: str | None = Field(
        default=None, max_length=255, pattern=r"^https?://[^/?#]+/?$",
        description="Set on a host whose footage stays on its own disk: the URL other hosts reach its recorder at "
        "(http://host:port). That recorder indexes its folder under CAMSTREAM_INGEST_HOST and serves the footage "
        "to gateways, who sign each request with CAMSTREAM_SECRET_KEY. Unset: one recordings folder for every "
        "host (a single host, or a NAS mounted on each).",
    )  # fmt: skip
    recordings_listen: str = Field(
        default="[::]:8790", pattern=r"^(\[[0-9A-Fa-f:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):[0-9]{1,5}$",
        description="Where the recorder serves its footage (address:port), when CAMSTREAM_RECORDINGS_URL is set.",
    )  # fmt: skip
    recordings_max_gb: float = Field(
        default=0.0, ge=0, description="Most gigabytes recordings may use (0: no cap but the free-space floor)."
    )
    recordings_min_free_gb: float = Field(
        default=2.0, ge=0, description="Free space kept on the recordings' file system: the oldest footage goes first."
    )
    recordings_segment_s: float = Field(
        default=10.0, ge=1, le=300, description="Length of a recording segment (whole GOPs, at least this long)."
    )
    clip_max_s: float = Field(default=3600.0, gt=0, le=86400, description="Longest clip the API answers.")
    clip_cache_mb: float = Field(
        default=2048.0, gt=0, description="Most megabytes of clips kept made (in CAMSTREAM_DATA_DIR/clips) at once."
    )
    log_level: str = Field(default="INFO", pattern=r"(?i)^(debug|info|warning|error|critical)$")
    umask: str = Field(
        default="077", pattern=r"^0?[0-7]{3}$",
        description="Octal umask of every process: 077 makes the database, recordings and keys readable by "
        "camstream's own user only; 027 lets its group read them (a media server in that group).",
    )  # fmt: skip

    redis_timeout_s: float = Field(default=1.0, gt=0, le=30, description="Longest a Redis call may block a camera.")
    frame_stream_s: float = Field(
        default=2.0, gt=0, le=60, description="Seconds of frames each camera's frame stream keeps."
    )
    packet_stream_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds of a camera's own access units its packet stream keeps (and never less than "
        "everything since its last keyframe).",
    )
    status_interval_s: float = Field(default=1.0, gt=0, le=10)
    status_ttl_s: float = Field(
        default=5.0, gt=0, le=120, description="A camera whose status is older shows as offline."
    )
    rtsp_open_timeout_s: float = Field(default=5.0, gt=0, le=60)
    rtsp_read_timeout_s: float = Field(default=3.0, gt=0, le=60)
    camera_offline_s: float = Field(
        default=30.0, ge=1, le=86400,
        description="A camera that delivers no frame this long is offline (an `offline` event); frames flowing "
        "this long again end it, so a flapping camera is one event. Per camera: `health.offline_s`.",
    )  # fmt: skip
    backoff_initial_s: float = Field(default=1.0, gt=0, le=60)
    backoff_max_s: float = Field(default=30.0, gt=0, le=3600)
    backoff_reset_after_s: float = Field(
        default=30.0, gt=0, description="A source that streamed this long starts its backoff afresh."
    )
    stop_timeout_s: float = Field(
        default=4.0, gt=0, le=60, description="How long the ingest manager waits for cameras to stop."
    )
    ingest_orphan_s: float = Field(
        default=30.0, ge=1, le=3600,
        description="A camera process whose ingest manager died runs on this long for a new one to adopt it.",
    )  # fmt: skip
    ingest_host: str = Field(
        default_factory=_host_name, min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="This ingest host's name among several (unique per host; the leases hold it). "
        "Default: the machine's host name.",
    )  # fmt: skip
    ingest_group: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="This ingest host's group: cameras with `ingest.group` run only on hosts of that group "
        "(hosts of a group run cameras without one too).",
    )  # fmt: skip
    ingest_fork_server: bool = Field(
        default=True,
        description="Fork camera processes from a warm process that has imported what they need (a second of CPU "
        "less for each start: a failover of many cameras at once is that much quicker). False: start each cold.",
    )
    ingest_shared: bool = Field(
        default=False,
        description="Set on every ingest host when there are several: a host that cannot renew a camera's lease "
        "(Redis unreachable, a network partition) stops the camera before the lease lapses, so that another host "
        "may take it and no camera runs twice. Unset (one host): cameras go on recording while Redis is away.",
    )
    ingest_lease_ttl_s: float = Field(
        default=5.0, ge=2, le=60,
        description="A camera whose ingest host went silent this long starts on another (plus a connect).",
    )  # fmt: skip

    analyzer_workers: int = Field(default=1, ge=0, le=64, description="Analyzer workers the run script starts.")
    analyzer_lease_ttl_s: float = Field(
        default=5.0, gt=0.5, le=60, description="A worker silent this long loses its cameras to the others."
    )
    analyzer_provider: str = Field(
        default="auto",
        description="Where the person model runs: auto (CUDA when present, else onnxruntime's CPU provider), "
        "an onnxruntime provider name, or OpenVINO (the openvino extra; faster where the CPU has bfloat16).",
    )
    analyzer_threads: int = Field(default=1, ge=1, le=64, description="Threads per detector call.")
    analyzer_detector: Literal["ssdlite", "nanodet"] = Field(
        default="nanodet",
        description="The built-in detector: nanodet (NanoDet-g, 80 COCO labels, the whole frame in one pass; "
        "scripts/setup.sh fetches it) or ssdlite (people only, two tiles: the detector before NanoDet).",
    )
    analyzer_input_long_side: int = Field(
        default=256, ge=64, le=1280, multiple_of=32,
        description="nanodet: the input's longer side in pixels (more finds smaller, distant objects, at a cost).",
    )  # fmt: skip
    analyzer_person_model: Path | None = Field(
        default=None, description="Your own ONNX person detector instead of the built-in one (see docs)."
    )
    analyzer_detector_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="A detector call running longer is abandoned and reported."
    )
    analyzer_idle_detect_s: float = Field(
        default=5.0, gt=0, le=3600, description="Without motion, look for people and faces this often anyway."
    )
    analyzer_full_frame_s: float = Field(
        default=2.0, ge=0, le=3600,
        description="While only part of the frame moves, people are looked for there; the whole frame this often "
        "(0: always the whole frame).",
    )  # fmt: skip
    model_dir: Path | None = Field(
        default=None,
        description="Where NanoDet's fetched files are (default: the venv's share/camstream/nanodet, where "
        "scripts/setup.sh puts them).",
    )
    model_cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "camstream",
        description="Where converted detector models are cached.",
    )
    detections_stream_len: int = Field(default=100, ge=10, le=100000, description="Entries kept per detections stream.")
    events_history_len: int = Field(default=10000, ge=100, le=10_000_000, description="Events kept in history.")

    gateway_host: str = Field(default="0.0.0.0", description="Address the gateway listens on.")  # noqa: S104
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: list[str] = Field(
        default_factory=list, description='Browser origins allowed to call the API, as JSON: ["https://a.example"].'
    )
    admin_user: str = Field(
        default="admin",
        pattern=r"^[A-Za-z0-9_.@-]{1,64}$",
        description="Name of the admin created on the first start (when there is no user at all).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of that first admin. Unset: a strong one is generated and printed once by the run "
        "command (a gateway started alone writes it to CAMSTREAM_DATA_DIR/initial-admin-password).",
    )
    session_hours: float = Field(
        default=24.0, gt=0, le=24 * 366, description="A login lasts this long after the session's last use."
    )
    session_max_days: float = Field(
        default=30.0, gt=0, le=3660, description="A login ends this long after it began, however much it is used."
    )
    login_attempts_per_minute: int = Field(
        default=5, ge=1, le=1000,
        description="Failed logins allowed per user name, client address and known device before a wait: a minute, "
        "then each further failure doubles it, up to 15 minutes; an hour without failures starts again.",
    )  # fmt: skip
    outbound_deny: str = Field(
        default="",
        description="Comma-separated ranges that webhooks, notification servers and the camera probe may not reach, "
        "added to the built-in ones (link-local and metadata addresses, loopback and this machine's own addresses).",
    )
    outbound_allow: str = Field(
        default="",
        description="Comma-separated ranges exempted from that deny-list (a Home Assistant on this machine: "
        "127.0.0.1/32).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed. Unset: none is; the connecting address is the client's.",
    )
    metrics_public: bool = Field(default=False, description="Serve /metrics without credentials.")
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated names the gateway answers to in the Host header (against DNS rebinding); "
        "unset: loopback names and this machine's own names and addresses; * answers any.",
    )
    tls: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: a gateway listening beyond loopback without CAMSTREAM_TLS_CERT serves HTTPS with a "
        "certificate it makes (data folder's tls/); off: plain HTTP (behind a reverse proxy that does TLS).",
    )
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain): the gateway serves HTTPS.")
    tls_key: Path | None = Field(default=None, description="PEM private key of CAMSTREAM_TLS_CERT.")
    webrtc_ice_servers: list[dict[str, Any]] = Field(
        default_factory=list,
        description='STUN/TURN servers as JSON, e.g. [{"urls": "stun:stun.example:3478"}]. None by default: '
        "no outside server is contacted unless you configure one.",
    )
    webrtc_hosts: str = Field(
        default="", description="Comma-separated host addresses offered as ICE candidates (unset: every interface)."
    )
    webrtc_negotiation_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="A viewer that has not connected by then is dropped."
    )
    webrtc_max_pending: int = Field(
        default=64, ge=1, le=10000, description="WebRTC sessions still connecting, at most; past it 429."
    )
    webrtc_max_pending_per_client: int = Field(
        default=8, ge=1, le=10000, description="WebRTC sessions still connecting from one client address; past it 429."
    )
    webrtc_max_sessions_per_user: int = Field(
        default=32, ge=1, le=10000,
        description="Live video sessions (WebRTC and WHEP, connected or not) of one user at once; past it 429.",
    )  # fmt: skip
    mjpeg_max_clients: int = Field(default=256, ge=1, le=100000, description="MJPEG clients per camera; past it 503.")
    events_max_clients: int = Field(
        default=1000, ge=1, le=100000, description="Clients of /ws/events at once; past it the socket closes (1013)."
    )
    max_body_bytes: int = Field(default=65536, ge=1024, description="Larger request bodies are refused (413).")

    @model_validator(mode="after")
    def _mqtt_scheme(self) -> Settings:
        if self.mqtt_url is not None and urlsplit(self.mqtt_url.get_secret_value()).scheme.lower() not in (
            "mqtt", "mqtts"
        ):  # fmt: skip
            raise ValueError("CAMSTREAM_MQTT_URL: mqtt:// or mqtts:// (the URL is not shown: it may hold a password)")
        return self

    @model_validator(mode="after")
    def _ranges(self) -> Settings:
        for name in ("trusted_proxies", "outbound_deny", "outbound_allow"):
            for item in filter(None, (i.strip() for i in getattr(self, name).split(","))):
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(
                        f"CAMSTREAM_{name.upper()}: {item[:60]!r} is not an address or a CIDR range"
                    ) from None
        return self

    @model_validator(mode="after")
    def _not_the_example_password(self) -> Settings:
        if self.redis_password is not None and self.redis_password.get_secret_value().startswith("replace-me"):
            raise ValueError("CAMSTREAM_REDIS_PASSWORD is still redis.env.example's: set your own "
                             "(openssl rand -base64 24)")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("CAMSTREAM_TLS_CERT and CAMSTREAM_TLS_KEY go together: set both or neither")
        return self

    @model_validator(mode="after")
    def _footage_signed(self) -> Settings:
        if self.recordings_url is not None and self.secret_key is None:
            raise ValueError("CAMSTREAM_RECORDINGS_URL needs CAMSTREAM_SECRET_KEY: gateways sign their requests for "
                             "this host's footage with it (set the same on every host)")  # fmt: skip
        return self

    @property
    def recordings_host(self) -> str:
        """Whose disk this process's recordings folder is: this host's name when the footage stays on it
        (CAMSTREAM_RECORDINGS_URL), "" for the folder every host shares."""
        return self.ingest_host if self.recordings_url is not None else ""

    @property
    def recordings_root(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    def redis_url_or_local(self) -> str:
        url = self.redis_url.get_secret_value() if self.redis_url else LOCAL_REDIS_URL
        if self.redis_password is None and self.redis_username is None:
            return url
        parts = urlsplit(url)
        user = quote(self.redis_username or parts.username or "", safe="")
        password = quote(self.redis_password.get_secret_value(), safe="") if self.redis_password else ""
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def load_settings() -> Settings:
    """Settings from the environment; errors name the variable, never its value."""
    try:
        return Settings()
    except ValidationError as e:
        lines = [
            f"CAMSTREAM_{'_'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            if item["loc"]
            else str(item["msg"]).removeprefix("Value error, ")
            for item in e.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("settings:\n  " + "\n  ".join(lines)) from None
