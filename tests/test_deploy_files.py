"""Deployment files that cannot run here (no Docker engine) are checked for what can be checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.cameras import load_cameras
from tests.support import ROOT

PROCESSES = ("ingest", "analyzer", "recorder", "bridge", "gateway")


def compose() -> dict[str, dict[str, object]]:
    services: dict[str, dict[str, object]] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def test_compose_file_validates(tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose (Debian package) not installed; scripts/test.sh installs it")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / "camstream.env.example", tmp_path / "camstream.env")
    shutil.copy(ROOT / "redis.env.example", tmp_path / "redis.env")
    done = subprocess.run(["docker-compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_compose_runs_what_supervisor_runs() -> None:
    services = compose()
    template = (ROOT / "deploy" / "supervisord.conf.template").read_text()
    for name in PROCESSES:
        assert services[name]["command"] == ["python", "-m", name]
        assert f"[program:{name}]\ncommand=@PYTHON@ -m {name}\n" in template
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "-m", name, "--check"]  # type: ignore[index]
        assert services[name]["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["env_file"] == ["camstream.env", "redis.env"]
    redis = services["redis"]
    assert "healthcheck" in redis and redis["restart"] == "unless-stopped"
    # Redis gets its own password and nothing else, and runs as its image's user, never root.
    assert redis["env_file"] == "redis.env" and redis["user"] == "redis"
    assert (ROOT / "redis.env.example").read_text().count("=") == 1
    assert "analyzer" not in str(services["analyzer"].get("container_name", "")), "a fixed name would stop --scale"


def test_image_installs_as_the_readme_does_and_holds_no_secret() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^FROM python:3\.1[1-9]-slim", dockerfile, re.M)
    assert "RUN scripts/setup.sh" in dockerfile and "USER camstream" in dockerfile
    assert re.search(r"^COPY .*\buv\.lock\b", dockerfile, re.M), "the image installs what the lock says"
    assert (
        readme.splitlines()[3].startswith("scripts/run.sh")
        and "scripts/setup.sh" in (ROOT / "scripts/run.sh").read_text()
    )
    assert not re.search(r"(?i)(password|secret|token)\s*=", dockerfile)
    assert {"camstream.env", "redis.env"} <= set((ROOT / ".gitignore").read_text().split())


def test_deploy_camera_file_is_valid() -> None:
    assert [c.id for c in load_cameras(ROOT / "deploy" / "cameras.yaml", {}).cameras] == [1, 2, 3, 4]


def test_vendored_browser_libraries_are_the_packages_files() -> None:
    """gateway/static/vendor holds uPlot 1.6.32's dist files unchanged (its README says how to upgrade)."""
    import hashlib  # noqa: PLC0415 - this test's alone

    vendor = ROOT / "gateway" / "static" / "vendor"
    expected = {
        "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
        "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    }
    for name, digest in expected.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "1.6.32" in (vendor / "README.md").read_text()


def test_the_several_hosts_compose_file_validates_for_each_role(tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose (Debian package) not installed; scripts/test.sh installs it")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    for name in ("camstream.env", "redis.env"):
        shutil.copy(ROOT / f"{name}.example", tmp_path / name)
    (tmp_path / "postgres.env").write_text("POSTGRES_PASSWORD=example\n")
    env = {**os.environ, "CAMSTREAM_HUB": "camstream-hub", "CAMSTREAM_INGEST_HOST": "ingest-1"}
    for roles in (["hub"], ["ingest"], ["ingest", "own-disk"]):
        profiles = [word for role in roles for word in ("--profile", role)]
        done = subprocess.run(["docker-compose", "-f", "deploy/compose.hosts.yml", *profiles, "config", "-q"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
    services = yaml.safe_load((ROOT / "deploy" / "compose.hosts.yml").read_text())["services"]
    for role, wanted in (("hub", {"redis", "postgres", "gateway", "recorder", "bridge", "analyzer"}),
                         ("ingest", {"ingest", "analyzer"}), ("own-disk", {"host-recorder"})):  # fmt: skip
        assert {name for name, service in services.items() if role in service["profiles"]} == wanted
    assert services["ingest"]["environment"]["CAMSTREAM_INGEST_SHARED"] == "true"
    assert services["host-recorder"]["command"] == ["python", "-m", "recorder"]
    assert services["host-recorder"]["environment"]["CAMSTREAM_RECORDINGS_LISTEN"] == "[::]:8790"
    for name in PROCESSES:
        assert services[name]["command"] == ["python", "-m", name]
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "-m", name, "--check"]
