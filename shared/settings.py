"""Process settings, from environment variables prefixed CAMSTREAM_ (and nothing else).

Loaded once in each process's main() and passed down; never read at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where a process looks for Redis when CAMSTREAM_REDIS_URL is unset and it is started alone.
# scripts/run.sh never relies on it: it starts an embedded redis-server and sets the URL.
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


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
    cameras_file: Path | None = Field(
        default=None, description="YAML camera file; unset means the built-in demo cameras."
    )
    log_level: str = Field(default="INFO", pattern=r"(?i)^(debug|info|warning|error|critical)$")

    redis_timeout_s: float = Field(default=1.0, gt=0, le=30, description="Longest a Redis call may block a camera.")
    frame_stream_s: float = Field(
        default=2.0, gt=0, le=60, description="Seconds of frames each camera's frame stream keeps."
    )
    status_interval_s: float = Field(default=1.0, gt=0, le=10)
    status_ttl_s: float = Field(
        default=5.0, gt=0, le=120, description="A camera whose status is older shows as offline."
    )
    rtsp_open_timeout_s: float = Field(default=5.0, gt=0, le=60)
    rtsp_read_timeout_s: float = Field(default=3.0, gt=0, le=60)
    backoff_initial_s: float = Field(default=1.0, gt=0, le=60)
    backoff_max_s: float = Field(default=30.0, gt=0, le=3600)
    backoff_reset_after_s: float = Field(
        default=30.0, gt=0, description="A source that streamed this long starts its backoff afresh."
    )
    stop_timeout_s: float = Field(
        default=4.0, gt=0, le=60, description="How long the ingest manager waits for cameras to stop."
    )

    def redis_url_or_local(self) -> str:
        return self.redis_url.get_secret_value() if self.redis_url else LOCAL_REDIS_URL


def load_settings() -> Settings:
    """Settings from the environment; errors name the variable, never its value."""
    try:
        return Settings()
    except ValidationError as e:
        lines = [
            f"CAMSTREAM_{'_'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in e.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("settings:\n  " + "\n  ".join(lines)) from None
