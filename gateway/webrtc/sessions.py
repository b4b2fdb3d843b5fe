"""WebRTC sessions: one peer connection per viewer, fed by the camera's shared encoder.

Sessions are created by the signalling routes, closed on `bye`, when the peer connection
fails or closes, when the signalling WebSocket goes away, or by the reaper when a viewer
never finishes negotiating. Only H.264 is offered: it is what the shared encoder makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.rtcpeerconnection import filter_preferred_codecs
from aiortc.sdp import candidate_from_sdp

from gateway.webrtc.feed import CameraFeed, PacketTrack

log = logging.getLogger(__name__)

# A connected viewer's receiver reports back (RTCP) about once a second; silence this long
# means it is gone (ICE consent would notice only after ~30 s).
VIEWER_SILENT_S = 10.0


class SignallingError(ValueError):
    """The viewer sent something we cannot use: a 400 with this message."""


@dataclass
class Session:
    id: str
    camera_id: int
    token: str
    overlay: bool
    created_at_s: float
    pc: RTCPeerConnection
    track: PacketTrack
    connected_at_s: float | None = None

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)


def use_host_addresses(hosts: list[str]) -> None:
    """Offer exactly these host candidates. aioice leaves out 127.0.0.1, which loopback viewers need."""
    if hosts:
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(hosts)


class Sessions:
    def __init__(
        self, feeds: dict[tuple[int, bool], CameraFeed], ice_servers: list[dict[str, Any]], negotiation_timeout_s: float
    ) -> None:
        self.feeds = feeds
        self.negotiation_timeout_s = negotiation_timeout_s
        self.ice_servers = [RTCIceServer(**server) for server in ice_servers]
        self.sessions: dict[str, Session] = {}
        self._reaper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="webrtc-reaper")

    async def create(self, session_id: str, camera_id: int, overlay: bool) -> Session:
        feed = self.feeds[(camera_id, overlay)]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))  # none: no outside server
        session = Session(session_id, camera_id, secrets.token_urlsafe(24), overlay, time.time(), pc, feed.subscribe())
        self.sessions[session_id] = session

        @pc.on("connectionstatechange")
        async def changed() -> None:
            log.info("session=%s %s", session_id, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                await self.close(session_id, f"connection {pc.connectionState}")

        log.info("session=%s created for camera=%d%s", session_id, camera_id, " with overlay" if overlay else "")
        return session

    def get(self, session_id: str, token: str | None) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        if token is None or not secrets.compare_digest(token, session.token):
            raise PermissionError(session_id)
        return session

    async def server_offer(self, session: Session) -> RTCSessionDescription:
        transceiver = session.pc.addTransceiver(session.track, direction="sendonly")
        _prefer_h264(transceiver)
        await session.pc.setLocalDescription(await session.pc.createOffer())
        return session.pc.localDescription

    async def answer(self, session: Session, sdp: str) -> RTCSessionDescription:
        """Answer the viewer's offer, sending the camera on its video m-line."""
        await self._set_remote(session, sdp, "offer")
        transceivers = [t for t in session.pc.getTransceivers() if t.kind == "video"]
        if not transceivers:
            raise SignallingError("the offer has no video m-line (add a recvonly video transceiver)")
        session.pc.addTrack(session.track)
        _prefer_h264(transceivers[0])
        try:
            await session.pc.setLocalDescription(await session.pc.createAnswer())
        except (ValueError, RuntimeError) as e:
            raise SignallingError(f"cannot answer this offer: {e}") from e
        if "H264" not in session.pc.localDescription.sdp:
            raise SignallingError("the offer has no H.264 (profile 42e01f), which this gateway sends")
        return session.pc.localDescription

    async def accept_answer(self, session: Session, sdp: str) -> None:
        if session.pc.signalingState != "have-local-offer":
            raise SignallingError("no offer of ours is waiting for an answer in this session")
        await self._set_remote(session, sdp, "answer")

    async def add_candidate(self, session: Session, candidate: dict[str, Any]) -> None:
        text = candidate.get("candidate")
        if not isinstance(text, str):
            raise SignallingError("candidate.candidate must be a string")
        if not text:  # end of candidates
            return
        body = text.split(":", 1)[1] if text.startswith("candidate:") else text
        if len(body.split()) < 8:  # foundation component transport priority address port "typ" type
            raise SignallingError("malformed ICE candidate: expected at least 8 fields")
        try:
            parsed = candidate_from_sdp(body)
        except (ValueError, IndexError, AssertionError) as e:
            raise SignallingError(f"malformed ICE candidate: {e}") from e
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        try:
            await session.pc.addIceCandidate(parsed)
        except (AssertionError, ValueError, KeyError, InvalidStateError) as e:  # aiortc asserts on what it cannot use
            raise SignallingError(f"cannot use this ICE candidate now: {type(e).__name__} {e}".strip()) from e

    async def close(self, session_id: str, why: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        log.info("session=%s closed: %s (%d frames sent)", session_id, why, session.track.frames_sent)
        session.track.stop()
        await session.pc.close()

    async def close_all(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for session_id in list(self.sessions):
            await self.close(session_id, "gateway stopping")

    async def _set_remote(self, session: Session, sdp: str, kind: str) -> None:
        if "v=0" not in sdp or "m=" not in sdp:
            raise SignallingError(f"malformed SDP {kind}: no v= or m= line")
        try:
            await session.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError) as e:
            raise SignallingError(f"malformed SDP {kind}: {type(e).__name__}: {e}") from e
        except (InvalidStateError, InvalidAccessError) as e:
            raise SignallingError(f"SDP {kind} not acceptable now: {e}") from e

    async def _reap(self) -> None:
        """Close sessions whose viewer never finished connecting, or stopped answering."""
        while True:
            await asyncio.sleep(min(2.0, self.negotiation_timeout_s / 2))
            now = time.time()
            for session in list(self.sessions.values()):
                stuck = (
                    session.state in ("new", "connecting") and now - session.created_at_s > self.negotiation_timeout_s
                )
                if stuck:
                    await self.close(session.id, "negotiation timed out")
                elif session.state == "connected" and await self._silent_for(session) > VIEWER_SILENT_S:
                    await self.close(session.id, "viewer stopped answering")

    async def _silent_for(self, session: Session) -> float:
        """Seconds since the viewer's last receiver report (since connecting, if none yet)."""
        if session.connected_at_s is None:
            session.connected_at_s = time.time()
        last = session.connected_at_s
        for sender in session.pc.getSenders():
            for stats in (await sender.getStats()).values():
                if stats.type == "remote-inbound-rtp":
                    last = max(last, stats.timestamp.timestamp())
        return time.time() - last


def _prefer_h264(transceiver: Any) -> None:
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")]
    transceiver.setCodecPreferences(codecs)
    # aiortc applies preferences when it reads a remote offer; the transceiver of a viewer's
    # offer is created by that very read, so narrow its negotiated codecs here too.
    if transceiver._codecs:
        transceiver._codecs = filter_preferred_codecs(transceiver._codecs, transceiver._preferred_codecs)
