"""A camera's `health` settings: what camstream watches to tell its owner the camera stopped being
useful (part of the camera file's model, shared.cameras; docs/health.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = Field(
        default=True, description="Raise this camera's health events at all (offline, footage not written, tamper)."
    )
    offline_s: float | None = Field(
        default=None, ge=1, le=86400,
        description="Seconds without a frame before the camera is offline, and of frames again before it is back "
        "(None: CAMSTREAM_CAMERA_OFFLINE_S, 30).",
    )  # fmt: skip

    gap_s: float = Field(
        default=60.0,
        ge=5,
        le=86400,
        description="Seconds a camera whose mode asks for footage may write none while its process is up and its "
        "frames flow (a writer stuck, a camera sending no keyframes) before a `recording_gap` event.",
    )

    tamper: bool = Field(
        default=True,
        description="Raise `tamper` events: the camera covered, blinded, moved or defocused (analysed cameras only).",
    )
    tamper_s: float = Field(
        default=10.0, ge=2, le=3600,
        description="Seconds the view must stay covered, blinded, moved or blurred before a `tamper` event.",
    )  # fmt: skip

    def offline_after_s(self, default_s: float) -> float:
        return self.offline_s if self.offline_s is not None else default_s
