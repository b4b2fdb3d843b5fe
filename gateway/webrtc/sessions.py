"""WebRTC sessions: one peer connection per viewer, fed by the camera's shared encoder.

Sessions are created by the signalling routes, closed on `bye`, when the peer connection
fails or closes, when the signalling WebSocket goes away, or by the reaper when a viewer
never finishes negotiating. Only H.264 is offered for video: it is what the shared encoder
makes and what cameras send. A viewer whose offer has an audio m-line (or who asks the
server's offer for audio) also gets the camera's audio, if it is an RTSP camera with audio:
its own G.711 when the viewer takes it, else Opus (gateway.webrtc.audio).

Sessions still negotiating cost a peer connection each and prove nothing yet, so they are
capped, overall and per client address; all of one user's sessions are capped too: past a cap a
new one is refused (429). A session ends when its viewer's credential is revoked
(gateway.auth.revocation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from gateway.auth.credentials import Principal
from gateway.webrtc.audio import AudioTrack, CameraAudio
from gateway.webrtc.compat import (
    SignallingError,
    close_peer,
    narrow_to_h264,
    negotiated_codec,
    prefer_codecs,
    viewer_input,
)
from gateway.webrtc.feed import PacketTrack
from gateway.webrtc.streams import Streams

log = logging.getLogger(__name__)

# A connected viewer's receiver reports back (RTCP) about once a second; silence this long
# means it is gone (ICE consent would notice only after ~30 s).
VIEWER_SILENT_S = 10.0
NEGOTIATING = ("new", "connecting")


class TooManySessions(Exception):
    """Too many sessions are still negotiating (overall, or from this client): a 429."""


@dataclass
class Session:
    id: str
    camera_id: int
    token: str
    overlay: bool
    created_at_s: float
    pc: RTCPeerConnection
    track: PacketTrack
    client: str  # the viewer's address, for the per-client cap
    connected_at_s: float | None = None
    audio: AudioTrack | None = None  # when the viewer takes the camera's audio
    principal: Principal | None = None  # who opened it: the session ends when their credential is revoked

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)


class Sessions:
    def __init__(
        self,
        streams: Streams,
        *,
        ice_servers: list[dict[str, Any]],
        negotiation_timeout_s: float,
        max_pending: int,
        max_pending_per_client: int,
        max_per_user: int,
    ) -> None:
        self.streams = streams  # gateway.cameras.live keeps them; sessions only read them
        self.negotiation_timeout_s = negotiation_timeout_s
        self.max_pending = max_pending
        self.max_pending_per_client = max_pending_per_client
        self.max_per_user = max_per_user
        self.refused = 0
        self.ice_servers = [RTCIceServer(**server) for server in ice_servers]
        self.sessions: dict[str, Session] = {}
        self._reaper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="webrtc-reaper")

    def check_capacity(self, client: str, user_id: int | None = None) -> None:
        """Raise TooManySessions when another session would pass a cap: negotiating ones overall and
        per client address, and every session of one user (connected ones too)."""
        if user_id is not None:
            mine = sum(s.principal is not None and s.principal.user_id == user_id for s in self.sessions.values())
            if mine >= self.max_per_user:
                self.refused += 1
                raise TooManySessions(f"this user has {mine} live video sessions (at most {self.max_per_user})")
        pending = [s for s in self.sessions.values() if s.state in NEGOTIATING]
        if len(pending) >= self.max_pending:
            self.refused += 1
            raise TooManySessions(f"{len(pending)} sessions are still connecting; try again shortly")
        if sum(s.client == client for s in pending) >= self.max_pending_per_client:
            self.refused += 1
            raise TooManySessions(f"this client has {self.max_pending_per_client} sessions still connecting")

    async def create(
        self, session_id: str, camera_id: int, overlay: bool, client: str, principal: Principal | None = None
    ) -> Session:
        self.check_capacity(client, principal.user_id if principal else None)
        if session_id in self.sessions:  # cannot happen with the store's counter; never hand out a live id
            raise ValueError(f"session id {session_id} is in use")
        streams = self.streams.get(camera_id)
        if streams is None:
            raise KeyError(f"camera {camera_id} has no live streams")
        feed = streams.feed(overlay)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))  # none: no outside server
        token = secrets.token_urlsafe(24)
        # Without the server-drawn overlay, an RTSP camera's viewers get its own stream (after a first
        # transcoded keyframe); with it, or for other sources, the shared transcoder.
        passthrough = streams.passthrough if not overlay else None
        track = passthrough.subscribe(feed) if passthrough is not None else feed.subscribe()
        session = Session(session_id, camera_id, token, overlay, time.time(), pc, track, client, principal=principal)
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
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, seen as a 500).
        if token is None or not secrets.compare_digest(token.encode(), session.token.encode()):
            raise PermissionError(session_id)
        return session

    async def server_offer(self, session: Session, audio: bool = False) -> RTCSessionDescription:
        """The gateway's offer: the camera's video, and its audio when asked for and there is any."""
        if session.pc.signalingState != "stable" or session.pc.getTransceivers():
            raise SignallingError("this session has negotiated already; start a new session")
        transceiver = session.pc.addTransceiver(session.track, direction="sendonly")
        narrow_to_h264(transceiver)
        camera_audio = self._audio(session.camera_id) if audio else None
        preferred = await camera_audio.preferred() if camera_audio is not None else []
        if camera_audio is not None and preferred:
            session.audio = camera_audio.track()
            prefer_codecs(session.pc.addTransceiver(session.audio, direction="sendonly"), preferred)
        await session.pc.setLocalDescription(await session.pc.createOffer())
        return session.pc.localDescription

    async def answer(self, session: Session, sdp: str) -> RTCSessionDescription:
        """Answer the viewer's offer, sending the camera on its video m-line."""
        if session.pc.signalingState != "stable" or session.pc.getTransceivers():
            raise SignallingError("this session has negotiated already; start a new session for another offer")
        await self._set_remote(session, sdp, "offer")
        transceivers = [t for t in session.pc.getTransceivers() if t.kind == "video"]
        if not transceivers:
            raise SignallingError("the offer has no video m-line (add a recvonly video transceiver)")
        audio = [t for t in session.pc.getTransceivers() if t.kind == "audio"]
        camera_audio = self._audio(session.camera_id) if audio else None
        preferred = await camera_audio.preferred() if camera_audio is not None else []
        with viewer_input("cannot answer this offer"):
            session.pc.addTrack(session.track)
            narrow_to_h264(transceivers[0])
            if camera_audio is not None and preferred:
                session.audio = camera_audio.track()
                session.pc.addTrack(session.audio)
                prefer_codecs(audio[0], preferred)
            await session.pc.setLocalDescription(await session.pc.createAnswer())
        if "H264" not in session.pc.localDescription.sdp:
            raise SignallingError("the offer has no H.264 (profile 42e01f), which this gateway sends")
        self._start_audio(session)
        return session.pc.localDescription

    async def accept_answer(self, session: Session, sdp: str) -> None:
        if session.pc.signalingState != "have-local-offer":
            raise SignallingError("no offer of ours is waiting for an answer in this session")
        await self._set_remote(session, sdp, "answer")
        self._start_audio(session)

    def _audio(self, camera_id: int) -> CameraAudio | None:
        streams = self.streams.get(camera_id)
        return streams.audio if streams is not None else None

    def _start_audio(self, session: Session) -> None:
        """Feed the session's audio track with what was negotiated (nothing if no codec was)."""
        camera_audio = self._audio(session.camera_id)
        if session.audio is None or camera_audio is None:
            return
        for transceiver in session.pc.getTransceivers():
            if transceiver.sender.track is session.audio:
                mime = negotiated_codec(transceiver)
                if mime is not None:
                    camera_audio.start(session.audio, mime)

    async def add_candidate(self, session: Session, candidate: dict[str, Any]) -> None:
        text = candidate.get("candidate")
        if not isinstance(text, str):
            raise SignallingError("candidate.candidate must be a string")
        if not text:  # end of candidates
            return
        body = text.split(":", 1)[1] if text.startswith("candidate:") else text
        if len(body.split()) < 8:  # foundation component transport priority address port "typ" type
            raise SignallingError("malformed ICE candidate: expected at least 8 fields")
        with viewer_input("malformed ICE candidate"):
            parsed = candidate_from_sdp(body)
        mid, index = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
        if not (mid is None or isinstance(mid, str)) or not (index is None or type(index) is int):
            raise SignallingError("candidate.sdpMid must be a string and sdpMLineIndex an integer")
        parsed.sdpMid, parsed.sdpMLineIndex = mid, index
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        with viewer_input("cannot use this ICE candidate now"):
            await session.pc.addIceCandidate(parsed)

    async def close(self, session_id: str, why: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        log.info("session=%s closed: %s (%d frames sent)", session_id, why, session.track.frames_sent)
        session.track.stop()
        if session.audio is not None:
            session.audio.stop()
        await close_peer(session.pc)

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
        with viewer_input(f"malformed SDP {kind}"):
            await session.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))

    async def _reap(self) -> None:
        """Close sessions whose viewer never finished connecting, or stopped answering."""
        while True:
            await asyncio.sleep(min(2.0, self.negotiation_timeout_s / 2))
            now = time.time()
            for session in list(self.sessions.values()):
                try:
                    stuck = session.state in NEGOTIATING and now - session.created_at_s > self.negotiation_timeout_s
                    if stuck:
                        await self.close(session.id, "negotiation timed out")
                    elif session.state == "connected" and await self._silent_for(session) > VIEWER_SILENT_S:
                        await self.close(session.id, "viewer stopped answering")
                except Exception:  # the reaper must outlive any one session's trouble
                    log.exception("session=%s could not be checked", session.id)

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
