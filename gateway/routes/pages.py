"""Pages: a minimal player for one camera (the dashboard comes with its own issue)."""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["pages"])

PLAYER = importlib.resources.files("gateway").joinpath("static/player.html").read_text(encoding="utf-8")


@router.get("/player", response_class=HTMLResponse, include_in_schema=False)
async def player() -> HTMLResponse:
    """One camera over WebRTC: /player?camera=1 (&overlay=1 for the detections)."""
    return HTMLResponse(PLAYER)
