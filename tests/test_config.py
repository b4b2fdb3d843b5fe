"""The camera file and settings: the demo set, placeholders, and errors that name the field."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.cameras import SourceKind, demo_cameras, load_cameras
from shared.settings import ConfigError, Settings, load_settings
from tests.support import ROOT, write_camera_file


def test_demo_set_is_the_seed_cameras() -> None:
    cameras = demo_cameras().cameras
    assert [(c.id, c.name, c.location, c.channel) for c in cameras] == [
        (1, "Front Door Camera", "Front Door", 101),
        (2, "Back Yard Camera", "Back Yard", 201),
        (3, "Garage Camera", "Garage", 301),
        (4, "Side Entrance Camera", "Side Entrance", 401),
    ]
    assert all(c.source_kind is SourceKind.DEMO and c.enabled for c in cameras)
    assert load_cameras(None, {}) == demo_cameras()


def test_placeholders_come_from_the_environment_and_stay_secret(tmp_path: Path) -> None:
    path = write_camera_file(tmp_path, [{"id": 7, "name": "Gate", "source": "rtsp://${U}:${P}@gate.example/s1"}])
    camera = load_cameras(path, {"U": "admin", "P": "pa55word"}).cameras[0]
    assert camera.source.get_secret_value() == "rtsp://admin:pa55word@gate.example/s1"
    assert "pa55word" not in repr(camera) and "pa55word" not in camera.model_dump_json()
    assert camera.source_masked == "rtsp://***@gate.example/s1"
    assert camera.fps == 15 and camera.jpeg_quality == 80 and camera.analysis.fps == 5


def test_a_missing_variable_is_named(tmp_path: Path) -> None:
    path = write_camera_file(tmp_path, [{"id": 1, "name": "Gate", "source": "rtsp://u:${GATE_PW}@gate.example/"}])
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.source: environment variable GATE_PW is not set"):
        load_cameras(path, {})


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        ({"id": 1, "name": "x", "source": "demo:", "fps": 0}, r"cameras\[0\]\.fps: Input should be greater than 0"),
        ({"id": 1, "name": "x", "source": "demo:", "colour": "red"}, r"cameras\[0\]\.colour: Extra inputs"),
        ({"id": 1, "name": "x"}, r"cameras\[0\]\.source: Field required"),
        (
            {"id": 1, "name": "x", "source": "http://u:secretpw@x/"},
            r"cameras\[0\]\.source: .*unsupported source scheme",
        ),
        ({"id": 1, "name": "x", "source": "demo:?size=big"}, r"cameras\[0\]\.source: .*size must look like"),
        ({"id": 1, "name": "x", "source": "demo:", "jpeg_quality": 101}, r"cameras\[0\]\.jpeg_quality"),
        ({"id": 1, "name": "x", "source": "demo:", "analysis": {"fps": "fast"}}, r"cameras\[0\]\.analysis\.fps"),
    ],
)
def test_errors_name_the_field_and_hide_the_value(tmp_path: Path, camera: dict[str, object], message: str) -> None:
    path = write_camera_file(tmp_path, [camera])
    with pytest.raises(ConfigError, match=message) as caught:
        load_cameras(path, {})
    assert "secretpw" not in str(caught.value)


def test_duplicate_ids_and_broken_files(tmp_path: Path) -> None:
    path = write_camera_file(
        tmp_path, [{"id": 1, "name": "a", "source": "demo:"}, {"id": 1, "name": "b", "source": "demo:"}]
    )
    with pytest.raises(ConfigError, match="camera id 1 appears twice"):
        load_cameras(path, {})
    broken = tmp_path / "broken.yaml"
    broken.write_text("cameras:\n  - id: 1\n   name: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_cameras(broken, {})
    with pytest.raises(ConfigError, match="cannot read it"):
        load_cameras(tmp_path / "absent.yaml", {})
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_cameras(tmp_path / "list.yaml", {})


def test_relative_file_sources_are_relative_to_the_camera_file(tmp_path: Path) -> None:
    path = write_camera_file(tmp_path, [{"id": 1, "name": "clip", "source": "clips/a.mp4"}])
    assert load_cameras(path, {}).cameras[0].source.get_secret_value() == str(tmp_path / "clips" / "a.mp4")


def test_example_camera_file_is_valid_and_points_nowhere_real() -> None:
    example = ROOT / "docs" / "cameras.example.yaml"
    cameras = load_cameras(example, {"FRONT_DOOR_USER": "u", "FRONT_DOOR_PASSWORD": "p", "GARAGE_PASSWORD": "g"})
    for camera in cameras.cameras:
        if camera.source_kind is SourceKind.RTSP:
            assert ".example" in camera.source.get_secret_value()


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMSTREAM_REDIS_URL", "redis://:pw@127.0.0.1:1/0")
    monkeypatch.setenv("CAMSTREAM_FRAME_STREAM_S", "3")
    settings = load_settings()
    assert settings.redis_url_or_local() == "redis://:pw@127.0.0.1:1/0" and settings.frame_stream_s == 3
    assert "pw" not in repr(settings)
    monkeypatch.setenv("CAMSTREAM_RTSP_READ_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="CAMSTREAM_RTSP_READ_TIMEOUT_S"):
        load_settings()
    monkeypatch.delenv("CAMSTREAM_REDIS_URL")
    monkeypatch.delenv("CAMSTREAM_RTSP_READ_TIMEOUT_S")
    assert Settings().redis_url is None


def test_every_setting_and_camera_field_is_documented() -> None:
    from shared.analysis import AnalysisConfig  # noqa: PLC0415
    from shared.cameras import Camera  # noqa: PLC0415

    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`CAMSTREAM_{name.upper()}`" in doc, f"CAMSTREAM_{name.upper()} missing from docs/configuration.md"
    for name in Camera.model_fields:
        assert f"`{name}" in doc, f"camera field {name} missing from docs/configuration.md"
    for name in AnalysisConfig.model_fields:
        assert f"analysis.{name}" in doc, f"analysis.{name} missing from docs/configuration.md"


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("cameras:\n  - id: 1\n    name: Caf\xe9\n    source: 'demo:'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 32 "):
        load_cameras(path, {})


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Seen before: nine levels of nine aliases held the loader for more than 40 s."""
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 9):
        previous = chr(ord("a") + n - 1)
        levels.append(f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [{', '.join(['*' + previous] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text(
        "\n".join(levels) + "\ncameras:\n  - {id: 1, name: x, source: 'demo:', analysis: {motion_zones: *i}}\n"
    )
    started = time.monotonic()
    with pytest.raises(ConfigError, match="YAML aliases"):
        load_cameras(path, {})
    assert time.monotonic() - started < 2.0
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * 2_000_000)
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_cameras(huge, {})


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", True), ("channel", 1.5), ("enabled", "yes"), ("fps", "15"), ("jpeg_quality", False), ("name", 7)],
)
def test_types_are_strict(tmp_path: Path, field: str, value: object) -> None:
    """Seen before: `id: true` was accepted as camera 1."""
    path = write_camera_file(tmp_path, [{"id": 1, "name": "x", "source": "demo:", field: value}])
    with pytest.raises(ConfigError, match=rf"cameras\[0\]\.{field}: Input should be a valid"):
        load_cameras(path, {})


def test_the_examples_redis_password_and_bad_ranges_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    example = (ROOT / "redis.env.example").read_text().split("CAMSTREAM_REDIS_PASSWORD=")[1].strip()
    monkeypatch.setenv("CAMSTREAM_REDIS_PASSWORD", example)
    with pytest.raises(ConfigError, match=r"still redis\.env\.example's") as refused:
        load_settings()
    assert example not in str(refused.value)
    monkeypatch.setenv("CAMSTREAM_REDIS_PASSWORD", "a-Passw0rd-of-its-own")
    for name in ("CAMSTREAM_TRUSTED_PROXIES", "CAMSTREAM_OUTBOUND_DENY", "CAMSTREAM_OUTBOUND_ALLOW"):
        monkeypatch.setenv(name, "198.51.100.0/24, nonsense")
        with pytest.raises(ConfigError, match=f"{name}: 'nonsense' is not an address"):
            load_settings()
        monkeypatch.delenv(name)
    assert load_settings().redis_password is not None
