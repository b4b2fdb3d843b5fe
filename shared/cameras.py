"""The camera file: its model, loading with `${VAR}` credentials, and the built-in demo set.

    cameras:
      - id: 1
        name: Front Door Camera
        location: Front Door
        channel: 101
        source: rtsp://${FRONT_DOOR_USER}:${FRONT_DOOR_PASSWORD}@front-door.example/stream1
        fps: 15

Errors name the field (`cameras[0].fps: ...`) and never echo a value, which may hold a password.
Types are strict (`id: true` is not camera 1), and loading is bounded: a file of at most
MAX_FILE_BYTES, whose YAML aliases expand to at most MAX_NODES values, nested at most MAX_DEPTH deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from shared.analysis import AnalysisConfig
from shared.camera_urls import check_rtsp_url
from shared.health import HealthConfig
from shared.ingest_hosts import IngestConfig
from shared.labels import EventKind
from shared.nesting import MAX_DEPTH, yaml_too_deep
from shared.redact import mask_credentials
from shared.secret_box import SecretBox, is_sealed
from shared.settings import ConfigError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # values once YAML aliases are expanded; an alias bomb makes billions
# Camera ids are INTEGER columns: PostgreSQL's hold at most this (SQLite's more).
MAX_CAMERA_ID = 2**31 - 1
# The only fields whose `${VAR}`s are filled in (from each process's own environment): the URLs,
# which is where credentials go. Filled anywhere else, a name could show any process's secrets
# (the Redis URL, the secret key) to every viewer and in every MQTT and webhook payload.
PLACEHOLDER_FIELDS = ("source", "detect_source")
_DEMO_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})$")


class SourceKind(StrEnum):
    RTSP = "rtsp"
    FILE = "file"
    DEMO = "demo"


RecordMode = Literal["off", "continuous", "motion", "events"]


class RecordConfig(BaseModel):
    """What of the camera's own stream is kept on disk (see docs/recordings.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = Field(
        default=True, description="Record at all: false is `mode: off` that keeps the mode (MQTT's record/set)."
    )
    mode: RecordMode = Field(
        default="events",
        description="off; continuous (everything); motion (footage around any event, motion included); events "
        "(footage around the events of `event_types`).",
    )
    event_types: list[EventKind] = Field(
        default_factory=lambda: list[EventKind](["person", "face", "object"]),
        min_length=1,
        description="The events whose footage `events` mode keeps, and that make footage `event` footage (kept "
        "for events_retain_days) in every mode: types (motion, person, face, object) or object labels (car, dog).",
    )
    retain_days: float = Field(default=7.0, gt=0, le=3650, description="Days footage without events is kept.")
    events_retain_days: float = Field(
        default=30.0, gt=0, le=3650, description="Days footage that overlaps an event is kept."
    )
    pre_s: float = Field(default=5.0, ge=0, le=60, description="Seconds kept before motion or an event starts.")
    post_s: float = Field(default=5.0, ge=0, le=300, description="Seconds kept after motion or an event ends.")

    @property
    def active(self) -> bool:
        """Whether the camera's stream is written to disk at all."""
        return self.enabled and self.mode != "off"


class Camera(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: int = Field(ge=1, le=MAX_CAMERA_ID, description="Camera id, used in API paths and Redis keys.")
    name: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=200)
    channel: int = Field(default=0, ge=0, le=MAX_CAMERA_ID, description="Channel number, as on the recorder.")
    source: SecretStr = Field(
        description="rtsp:// or rtsps:// URL, a video file path (looped), or demo:[scene][?size=WxH&fps=N]."
    )
    detect_source: SecretStr | None = Field(
        default=None,
        description="The camera's second, smaller stream (its sub stream), for analysis: ingest decodes only this "
        "one and never the main `source` (same forms as `source`).",
    )
    tls_fingerprint: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$",
        description="rtsps:// cameras: the SHA-256 (64 hex digits, as the probe shows it) of the certificate the "
        "camera must present; any other is refused before the login is sent. Unset: any certificate (encryption only).",
    )  # fmt: skip
    enabled: bool = True
    audio: bool = Field(default=True, description="Pass the camera's audio on (RTSP cameras that send any).")
    fps: float = Field(default=15.0, gt=0, le=60, description="Target frames per second into Redis.")
    jpeg_quality: int = Field(default=80, ge=1, le=100)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    registry: bool = Field(
        default=False, description="Set by camstream for a camera the external camera registry manages (read-only)."
    )

    @field_validator("source", "detect_source")
    @classmethod
    def _known_scheme(cls, source: SecretStr | None) -> SecretStr | None:
        if source is not None and source_kind(source.get_secret_value()) is SourceKind.RTSP:
            check_rtsp_url(source.get_secret_value())
        return source

    @property
    def decoded_source(self) -> SecretStr:
        """What ingest decodes into frames: the detect stream when there is one."""
        return self.detect_source or self.source

    @property
    def source_kind(self) -> SourceKind:
        return source_kind(self.source.get_secret_value())

    @property
    def source_masked(self) -> str:
        return mask_credentials(self.source.get_secret_value())

    @property
    def detect_source_masked(self) -> str | None:
        return mask_credentials(self.detect_source.get_secret_value()) if self.detect_source else None


class CameraFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    cameras: Annotated[list[Camera], Field(min_length=1)]

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[Camera]) -> list[Camera]:
        seen: set[int] = set()
        for camera in cameras:
            if camera.id in seen:
                raise ValueError(f"camera id {camera.id} appears twice")
            seen.add(camera.id)
        return cameras

    def camera(self, camera_id: int) -> Camera | None:
        return next((c for c in self.cameras if c.id == camera_id), None)


def source_kind(source: str) -> SourceKind:
    scheme = urlsplit(source).scheme.lower() if "://" in source or source.startswith("demo:") else ""
    if scheme in ("rtsp", "rtsps"):
        return SourceKind.RTSP
    if scheme == "demo":
        demo_options(source)
        return SourceKind.DEMO
    if scheme in ("", "file"):
        if not source.strip():
            raise ValueError("source is empty")
        return SourceKind.FILE
    raise ValueError(f"unsupported source scheme {scheme!r}: use rtsp://, rtsps://, demo: or a file path")


def demo_options(source: str) -> tuple[str, int, int, float | None]:
    """Scene name, width, height and fps (None: the camera's) of a `demo:` source."""
    parts = urlsplit(source)
    query = parse_qs(parts.query)
    width, height = 1280, 720
    if "size" in query:
        size = _DEMO_SIZE.match(query["size"][-1])
        if not size:
            raise ValueError("demo source: size must look like 1280x720")
        width, height = int(size[1]), int(size[2])
        if width % 2 or height % 2:
            raise ValueError("demo source: width and height must be even")
    fps = None
    if "fps" in query:
        try:
            fps = float(query["fps"][-1])
        except ValueError:
            fps = -1.0
        if not 0 < fps <= 60:
            raise ValueError("demo source: fps must be a number in (0, 60]")
    return parts.path.strip("/") or "default", width, height, fps


def file_path(source: str, base_dir: Path | None) -> Path:
    path = Path(urlsplit(source).path if source.startswith("file:") else source).expanduser()
    return path if path.is_absolute() or base_dir is None else base_dir / path


def demo_cameras() -> CameraFile:
    """The built-in set: four demo cameras, each on a synthetic scene."""
    demo = [
        (1, "Front Door Camera", "Front Door", 101),
        (2, "Back Yard Camera", "Back Yard", 201),
        (3, "Garage Camera", "Garage", 301),
        (4, "Side Entrance Camera", "Side Entrance", 401),
    ]
    return CameraFile(
        cameras=[
            Camera(
                id=cid,
                name=name,
                location=location,
                channel=channel,
                source=SecretStr(f"demo:{location.lower().replace(' ', '_')}?size=1280x720"),
                fps=15,
                # The demo scenes' walker makes motion events (the person detector does not take it
                # for a person): keep footage around every event, so a newcomer finds clips.
                record=RecordConfig(mode="events", event_types=["motion", "person", "face"]),
            )
            for cid, name, location, channel in demo
        ]
    )


def load_cameras(path: Path | None, environ: Mapping[str, str]) -> CameraFile:
    """Read and validate the camera file (None: the demo set). Raises ConfigError."""
    return load_camera_definitions(path, environ)[0]


def load_camera_definitions(path: Path | None, environ: Mapping[str, str]) -> tuple[CameraFile, list[dict[str, Any]]]:
    """The validated cameras, and each camera's mapping as written, for the database: `${VAR}`
    placeholders stay placeholders (credentials stay in the environment), and relative file
    sources are made absolute. Raises ConfigError."""
    if path is None:
        demo = demo_cameras()
        return demo, [definition_of(c) for c in demo.cameras]
    document = _read_document(path)
    problems: list[str] = []
    budget = [MAX_NODES]
    expanded = _expand_camera_urls(document, environ, problems, budget)
    if budget[0] < 0:
        raise ConfigError(f"camera file {path}: more than {MAX_NODES} values once its YAML aliases are expanded")
    if problems:
        raise ConfigError(f"camera file {path}:\n  " + "\n  ".join(problems))
    try:
        cameras = CameraFile.model_validate(expanded)
    except ValidationError as e:
        raise ConfigError(f"camera file {path}:\n  " + "\n  ".join(describe_errors(e))) from None
    cameras = _resolve_files(cameras, path.parent)
    definitions = []
    for written, camera in zip(_plain(document)["cameras"], cameras.cameras, strict=True):
        resolved = {
            name: value.get_secret_value()
            for name, value in (("source", camera.source), ("detect_source", camera.detect_source))
            if value is not None and source_kind(value.get_secret_value()) is SourceKind.FILE
        }
        definitions.append({**written, **resolved})
    return cameras, definitions


def definition_of(camera: Camera) -> dict[str, Any]:
    """A camera as a mapping like one of a camera file's (the defaults left out)."""
    secrets = {"source": camera.source.get_secret_value()}
    if camera.detect_source is not None:
        secrets["detect_source"] = camera.detect_source.get_secret_value()
    return {**camera.model_dump(mode="json", exclude_defaults=True), **secrets}


def camera_from_definition(
    definition: Mapping[str, Any], environ: Mapping[str, str], box: SecretBox | None = None
) -> Camera:
    """A stored camera mapping, its placeholders filled from `environ` and its sealed URLs opened with
    `box` (shared.secret_box). Raises ConfigError."""
    problems: list[str] = []
    opened = dict(definition)
    for name in ("source", "detect_source"):
        if is_sealed(opened.get(name)):
            if box is None:
                raise ConfigError(f"{name} is stored encrypted, and this process has no key to open it")
            opened[name] = box.open(opened[name])
    expanded = _expand_urls(opened, environ, problems, [MAX_NODES], "")
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        return Camera.model_validate(expanded)
    except ValidationError as e:
        raise ConfigError("; ".join(describe_errors(e))) from None


def _plain(document: Any) -> Any:
    """The YAML document with aliases copied out, as JSON would hold it."""
    return json.loads(json.dumps(document))


def _read_document(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"camera file {path}: cannot read it ({e.strerror})") from e
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"camera file {path}: larger than {MAX_FILE_BYTES // 1024} KiB; is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"camera file {path}: not UTF-8 text (byte {e.start} cannot be read); save it as UTF-8"
        ) from None
    if yaml_too_deep(text):
        raise ConfigError(f"camera file {path}: nested deeper than {MAX_DEPTH} levels (a camera needs 5)")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"camera file {path}: not valid YAML{line}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"camera file {path}: expected a mapping with a 'cameras:' list")
    return document


def describe_errors(error: ValidationError) -> list[str]:
    """`cameras[1].fps: Input should be greater than 0`, without the offending value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"]).lstrip(".")
        lines.append(f"{where or 'file'}: {mask_credentials(item['msg'])}")
    return lines


def _expand_camera_urls(document: Any, environ: Mapping[str, str], problems: list[str], budget: list[int]) -> Any:
    """The camera file with its cameras' URL placeholders filled in; a placeholder anywhere else is
    a problem (said, never filled)."""
    _refuse_placeholders(document, problems, budget, "", skip=PLACEHOLDER_FIELDS)
    cameras = document.get("cameras")
    if not isinstance(cameras, list):
        return document
    filled = [
        _expand_urls(c, environ, problems, budget, f"cameras[{i}].") if isinstance(c, dict) else c
        for i, c in enumerate(cameras)
    ]
    return {**document, "cameras": filled}


def _expand_urls(camera: Mapping[str, Any], environ: Mapping[str, str], problems: list[str], budget: list[int],
                 where: str) -> dict[str, Any]:  # fmt: skip
    return {
        k: _expand_placeholders(v, environ, problems, budget, f"{where}{k}") if k in PLACEHOLDER_FIELDS else v
        for k, v in camera.items()
    }


def placeholders_in(fields: Mapping[str, Any]) -> list[str]:
    """Where a camera's fields (as the API takes them) hold `${VAR}`s: `name`, `analysis.zones[0].name`."""
    found: list[str] = []
    _refuse_placeholders(dict(fields), found, [MAX_NODES], "", skip=())
    return [line.partition(":")[0] for line in found]


def _refuse_placeholders(node: Any, problems: list[str], budget: list[int], where: str, skip: tuple[str, ...]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            if not (isinstance(k, str) and k in skip):
                _refuse_placeholders(v, problems, budget, f"{where}.{k}".lstrip("."), skip)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _refuse_placeholders(v, problems, budget, f"{where}[{i}]", skip)
    elif isinstance(node, str) and _PLACEHOLDER.search(node):
        problems.append(f"{where}: ${{VAR}} placeholders are filled in only in source and detect_source")


def _expand_placeholders(
    node: Any, environ: Mapping[str, str], problems: list[str], budget: list[int], where: str = ""
) -> Any:
    """A copy of the document with `${VAR}`s filled in; stops (budget below 0) past MAX_NODES values."""
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(node, dict):
        return {
            k: _expand_placeholders(v, environ, problems, budget, f"{where}.{k}".lstrip(".")) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_expand_placeholders(v, environ, problems, budget, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):

        def value_of(match: re.Match[str]) -> str:
            name = match[1]
            if name not in environ:
                problems.append(f"{where}: environment variable {name} is not set")
                return ""
            return environ[name]

        return _PLACEHOLDER.sub(value_of, node)
    return node


def _resolve_files(cameras: CameraFile, base_dir: Path) -> CameraFile:
    """Relative file sources are relative to the camera file's folder."""
    resolved = []
    for camera in cameras.cameras:
        update = {
            name: SecretStr(str(file_path(value.get_secret_value(), base_dir)))
            for name, value in (("source", camera.source), ("detect_source", camera.detect_source))
            if value is not None and source_kind(value.get_secret_value()) is SourceKind.FILE
        }
        resolved.append(camera.model_copy(update=update) if update else camera)
    return CameraFile(cameras=resolved)
