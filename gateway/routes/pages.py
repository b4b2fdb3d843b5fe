"""Pages: the dashboard at `/` (static HTML, CSS and JavaScript modules; no build step, no CDN)
and a minimal single-camera player."""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["pages"])

STATIC = importlib.resources.files("gateway").joinpath("static")
PLAYER = STATIC.joinpath("player.html").read_text(encoding="utf-8")
DASHBOARD = STATIC.joinpath("index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard: every camera live, events, system health."""
    return HTMLResponse(DASHBOARD)


@router.get("/player", response_class=HTMLResponse, include_in_schema=False)
async def player() -> HTMLResponse:
    """One camera over WebRTC: /player?camera=1 (&overlay=1 for the detections)."""
    return HTMLResponse(PLAYER)
