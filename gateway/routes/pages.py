"""Pages: the dashboard at `/` (static HTML, CSS and JavaScript modules; no build step, no CDN),
a minimal single-camera player, the login page and the API's docs. No page holds inline script:
the Content-Security-Policy allows only the gateway's own files."""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["pages"])

STATIC = importlib.resources.files("gateway").joinpath("static")
PLAYER = STATIC.joinpath("player.html").read_text(encoding="utf-8")
DASHBOARD = STATIC.joinpath("index.html").read_text(encoding="utf-8")
LOGIN = STATIC.joinpath("login.html").read_text(encoding="utf-8")
DOCS = STATIC.joinpath("docs.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard: every camera live, events, system health."""
    return HTMLResponse(DASHBOARD)


@router.get("/player", response_class=HTMLResponse, include_in_schema=False)
async def player() -> HTMLResponse:
    """One camera over WebRTC: /player?camera=1 (&overlay=1 for the detections)."""
    return HTMLResponse(PLAYER)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login() -> HTMLResponse:
    """The login page: open to everyone, as are its script and style."""
    return HTMLResponse(LOGIN)


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def docs() -> HTMLResponse:
    """Swagger UI, from the gateway's own files (nothing from a CDN, no inline script)."""
    return HTMLResponse(DOCS)
