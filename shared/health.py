"""A camera's `health` settings: what camstream watches to tell its owner the camera stopped being
useful (part of the camera file's model, shared.cameras; docs/health.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = Field(default=True, description="Raise this camera's health events (offline) at all.")
    offline_s: float | None = Field(
        default=None, ge=1, le=86400,
        description="Seconds without a frame before the camera is offline, and of frames again before it is back "
        "(None: CAMSTREAM_CAMERA_OFFLINE_S, 30).",
    )  # fmt: skip

    def offline_after_s(self, default_s: float) -> float:
        return self.offline_s if self.offline_s is not None else default_s
