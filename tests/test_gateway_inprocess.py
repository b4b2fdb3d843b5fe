"""The gateway's API in this process against a real redis-server: every bad input gets a clear 4xx,
nothing answers 500, and no client behaviour can exhaust what the gateway shares."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re

import httpx
import pytest
import redis
from aiortc import RTCConfiguration, RTCPeerConnection
from prometheus_client.parser import text_string_to_metric_families
from starlette.websockets import WebSocketDisconnect

from gateway.routes.webrtc import MAX_JSON_DEPTH
from shared import keys
from shared.detections import Box, Event, EventPhase, EventType
from shared.status import AnalysisCounters, WorkerStatus
from tests.support import publish_events, wait_until_async
from tests.support.inprocess import ADMIN_PASSWORD, ADMIN_USER, BASE, api, sockets


def event(n: int, phase: EventPhase = EventPhase.START, camera_id: int = 1, snapshot: bool = True) -> Event:
    started = 1_790_000_000.0 + n
    return Event(f"{camera_id}-{n:016x}", camera_id, EventType.PERSON, phase, started,
                 started + 2 if phase is EventPhase.END else None, 0.9, Box(1, 2, 3, 4), 5, snapshot, 0.0)  # fmt: skip


BAD_REQUESTS = [
    ("GET", "/api/cameras/99", 404, "no camera with id 99"),
    ("GET", "/api/cameras/abc", 422, "int"),
    ("GET", "/api/cameras/99/snapshot.jpg", 404, "no camera"),
    ("GET", "/api/cameras/1/snapshot.jpg", 503, "no recent frame"),
    ("GET", "/api/events?limit=0", 422, "greater than or equal"),
    ("GET", "/api/events?type=dragon", 422, "motion"),
    ("GET", "/api/events?label=dragon", 422, "label must be person, face or one of"),
    ("GET", "/api/events?cursor=drop%20table", 422, "nextCursor"),
    ("GET", "/api/events?cursor=99999999999999999999999-0", 422, "nextCursor"),
    ("GET", "/api/events?cursor=18446744073709551616-0", 422, "nextCursor"),
    ("GET", "/api/events?until=-inf", 422, "until"),
    ("GET", "/api/events?since=inf", 422, "since"),
    ("GET", "/api/events?since=nan", 422, "since"),
    ("GET", "/api/events?since=1e300", 422, "since"),
    ("GET", "/api/events?until=-5", 422, "until"),
    ("GET", "/api/events?since=10&until=5", 400, "since is after until"),
    ("GET", "/api/events?camera=99", 404, "no camera"),
    ("GET", "/api/events/nope", 404, "no event nope"),
    ("GET", "/api/events/nope/snapshot.jpg", 404, "no snapshot"),
    ("DELETE", "/api/webrtc/sessions/1_1?token=x", 404, "no session"),
    ("DELETE", f"/api/webrtc/sessions/{'9' * 8000}?token=x", 422, "session_id"),
]


async def test_bad_requests_get_a_reason_and_never_a_500(redis_url: str) -> None:
    async with api(redis_url) as http:
        for method, path, status, reason in BAD_REQUESTS:
            reply = await http.request(method, path)
            assert (reply.status_code, reason in reply.text) == (status, True), (path, reply.status_code, reply.text)
        assert (await http.get("/healthz")).json() == {"status": "ok", "problems": []}


async def test_request_bodies_past_the_limit_are_refused(redis_url: str) -> None:
    async def streamed() -> object:
        for _ in range(40):
            yield b"x" * 4096

    async with api(redis_url, max_body_bytes=65536) as http:
        declared = await http.post("/api/webrtc/offer", content=b"x" * 100_000)
        assert declared.status_code == 413 and "larger than 65536" in declared.text
        chunked = await http.post("/api/webrtc/offer", content=streamed())
        assert chunked.status_code == 413
        small = await http.post("/api/webrtc/offer", json={"camera_id": 1})
        assert small.status_code == 422  # under the limit: on to validation


async def test_a_token_of_any_characters_is_a_clear_403(redis_url: str) -> None:
    """Seen before: a non-ASCII token made secrets.compare_digest raise, a 500."""
    async with api(redis_url) as http:
        session = (await http.post("/api/webrtc/stream/1")).json()
        sid = session["session_id"]
        for token in ("é", "\u2603" * 30, "x"):
            hang_up = await http.delete(f"/api/webrtc/sessions/{sid}", params={"token": token})
            answer = await http.post("/api/webrtc/answer", json={"session_id": sid, "token": token, "sdp": "v=0",
                                                                  "type": "answer"})  # fmt: skip
            candidate = await http.post("/api/webrtc/candidate", json={"session_id": sid, "token": token,
                                                                        "candidate": {"candidate": ""}})  # fmt: skip
            assert [r.status_code for r in (hang_up, answer, candidate)] == [403, 403, 403]
        assert (await http.delete(f"/api/webrtc/sessions/{sid}", params={"token": session["token"]})).status_code == 204


async def test_session_ids_stay_unique_when_redis_loses_the_counter(redis_url: str, rdb: redis.Redis) -> None:
    """Seen before: after a Redis restart `1_14` was handed out twice, while the first was live."""
    async with api(redis_url) as http:
        live = [(await http.post("/api/webrtc/stream/1")).json()["session_id"] for _ in range(3)]
        rdb.flushall()  # what a restart of a Redis without persistence leaves
        later = [(await http.post("/api/webrtc/stream/1")).json()["session_id"] for _ in range(3)]
        assert all(re.fullmatch(r"1_\d+", s) for s in live + later)
        assert not set(live) & set(later)
        assert min(int(s.split("_")[1]) for s in later) > max(int(s.split("_")[1]) for s in live)
        listed = (await http.get("/api/streams/status")).json()["sessions"]
        assert sorted(s["sessionId"] for s in listed) == sorted(live + later)


async def test_sessions_still_connecting_are_capped(redis_url: str) -> None:
    """Seen before: 5,000 never-completed sessions were all accepted."""
    async with api(redis_url, webrtc_max_pending=6, webrtc_max_pending_per_client=4) as http:
        created = [await http.post("/api/webrtc/stream/1") for _ in range(4)]
        assert [r.status_code for r in created] == [201] * 4
        refused = await http.post("/api/webrtc/stream/2")
        assert refused.status_code == 429 and "still connecting" in refused.text
        assert refused.headers["retry-after"]
        first = created[0].json()
        await http.delete(f"/api/webrtc/sessions/{first['session_id']}", params={"token": first["token"]})
        assert (await http.post("/api/webrtc/stream/2")).status_code == 201  # freed: room again
        metrics = (await http.get("/metrics")).text
        assert re.search(r"^camstream_webrtc_sessions_refused_total 1\.0$", metrics, re.M), metrics


async def test_one_users_live_video_sessions_are_capped_from_every_address(redis_url: str) -> None:
    """Seen before: 40 sessions from one token accepted."""
    async with api(redis_url, webrtc_max_sessions_per_user=3, webrtc_max_pending_per_client=10) as http:
        created = [await http.post("/api/webrtc/stream/1") for _ in range(3)]
        assert [r.status_code for r in created] == [201] * 3
        elsewhere = httpx.ASGITransport(app=http._transport.app, client=("127.0.0.7", 50002))  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=elsewhere, base_url=BASE, headers={"Origin": BASE}) as other:
            await other.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
            refused = await other.post("/api/webrtc/stream/2")
        assert refused.status_code == 429 and "this user has 3 live video sessions" in refused.text, refused.text


async def test_malformed_offers_get_a_400_never_a_500(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Seen before: 17 of 300 fuzzed SDPs answered 500 ("coroutine raised StopIteration"), 16 dropped the connection."""
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTransceiver("video", direction="recvonly")
    peer.addTransceiver("audio", direction="recvonly")
    await peer.setLocalDescription(await peer.createOffer())
    good = peer.localDescription.sdp
    await peer.close()
    lines = good.splitlines()
    rng = random.Random(9)

    def mutated() -> str:
        kept = list(lines)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(kept))
            choice = rng.random()
            if choice < 0.3:
                del kept[i]
            elif choice < 0.6:
                kept[i] = kept[i][: rng.randrange(len(kept[i]) + 1)]
            elif choice < 0.8:
                kept.insert(i, kept[rng.randrange(len(kept))])
            else:
                chars = list(kept[i])
                for _ in range(3):
                    if chars:
                        chars[rng.randrange(len(chars))] = rng.choice(":= /a0-\x00é")
                kept[i] = "".join(chars)
        return "\r\n".join(kept) + "\r\n"

    caplog.set_level(logging.ERROR)
    statuses: dict[int, int] = {}
    async with api(redis_url, webrtc_max_pending=1000, webrtc_max_pending_per_client=1000) as http:
        for _ in range(150):
            reply = await http.post("/api/webrtc/offer", json={"camera_id": 1, "sdp": mutated(), "type": "offer"})
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
            assert reply.status_code in (200, 400), reply.text
            if reply.status_code == 200:
                body = reply.json()
                await http.delete(f"/api/webrtc/sessions/{body['session_id']}", params={"token": body["token"]})
            else:
                assert reply.json()["detail"]
        assert (await http.get("/api/streams/status")).json()["sessions"] == []
    assert statuses.get(400, 0) > 20, statuses
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


async def test_events_have_one_shape_and_page_back_each_once(redis_url: str) -> None:
    """Every event has a start and maybe an end message; a page lists each event once, in its latest state."""
    publish_events(redis_url, [(event(n), b"\xff\xd8jpeg") for n in range(7)])
    publish_events(redis_url, [(event(n, EventPhase.END), None) for n in (1, 4)])
    async with api(redis_url) as http:
        seen: list[dict[str, object]] = []
        cursor = None
        for _ in range(5):
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/api/events", params=params)).json()
            seen += page["events"]
            cursor = page["nextCursor"]
            if not cursor:
                break
        assert [e["id"] for e in seen] == [f"1-{n:016x}" for n in range(6, -1, -1)]
        first = seen[-1]
        assert set(first) == {"id", "cameraId", "type", "phase", "startedAt", "endedAt", "score", "box", "frames",
                              "snapshotUrl", "publishedAt", "identity", "similarity", "label",
                              "stationary", "reason", "zone", "line", "direction", "trackId"}  # fmt: skip
        assert first["snapshotUrl"] == f"/api/events/{first['id']}/snapshot.jpg"
        assert {e["id"]: e["phase"] for e in seen}["1-0000000000000004"] == "end"
        one = (await http.get(f"/api/events/{first['id']}")).json()
        assert one == first
        assert (await http.get(str(first["snapshotUrl"]))).content == b"\xff\xd8jpeg"


async def test_metrics_are_valid_prometheus_text_whatever_the_labels(redis_url: str, rdb: redis.Redis) -> None:
    """Seen before: label values were written unescaped by hand."""
    odd = 'camera "7"\nwith\\slash'
    counters = AnalysisCounters(frames_analysed=3, lag_ms=12.5, inference_ms={"person": 31.0},
                                inference_counts={"person": [0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3]},
                                inference_sum_ms={"person": 93.0})  # fmt: skip
    status = WorkerStatus("w1", 1, "host", "CPUExecutionProvider", {odd: counters}, ["w1"], 0.0)
    rdb.zadd(keys.analyzer_workers(), {"w1": 1.0})
    rdb.set(keys.analyzer_status("w1"), status.encode())
    async with api(redis_url) as http:
        await http.get("/api/cameras")
        text = (await http.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    lag = families["camstream_analyzer_lag_ms"].samples
    assert [(s.labels["camera"], s.value) for s in lag] == [(odd, 12.5)]
    inference = families["camstream_analyzer_inference_seconds"].samples
    assert {s.labels.get("le") for s in inference if s.name.endswith("_bucket")} >= {"0.05", "+Inf"}
    assert "process_resident_memory_bytes" in families or "process_cpu_seconds" in families
    requests = families["camstream_http_request_seconds"].samples
    assert any(s.labels.get("route") == "/api/cameras" for s in requests)


async def test_api_docs_load_nothing_from_outside(redis_url: str) -> None:
    async with api(redis_url) as http:
        page = (await http.get("/docs")).text
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page) + re.findall(r"url: ?'([^']+)'", page)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert (await http.get(asset)).status_code == 200, asset
        assert (await http.get("/redoc")).status_code == 404


def test_event_websockets_survive_binary_frames_garbage_on_the_bus_and_crowds(redis_url: str) -> None:
    """Seen before: ~100 binary frames exhausted the Redis pool for good (every call then 503), a
    non-UTF-8 event disconnected every subscriber, and 500 subscribers killed the video feeds."""
    client = redis.Redis.from_url(redis_url)
    with sockets(redis_url) as gateway:
        for _ in range(120):
            with gateway.websocket_connect("/ws/events") as ws:
                ws.send_bytes(b"\x00\x01binary")
        crowd = [gateway.websocket_connect("/ws/events").__enter__() for _ in range(300)]
        try:
            assert gateway.get("/api/cameras").status_code == 200
            ours = [c for c in client.client_list() if c.get("name") != "test"]
            assert len(ours) <= 12, f"{len(ours)} Redis connections for 300 listeners"

            def wait_for_listeners() -> None:
                for _ in range(50):
                    if 'camstream_live_listeners{reader="events"} 300.0' in gateway.get("/metrics").text:
                        return
                    asyncio.run(asyncio.sleep(0.05))

            wait_for_listeners()
            client.publish(keys.EVENTS_CHANNEL, b"\xff\xfe not utf-8 {")
            client.publish(keys.EVENTS_CHANNEL, event(1).encode())
            for ws in (crowd[0], crowd[-1]):
                received = json.loads(ws.receive_text())
                assert received["id"] == event(1).id and received["cameraId"] == 1
        finally:
            for ws in crowd:
                ws.__exit__(None, None, None)
        assert gateway.get("/api/events").status_code == 200
    client.close()


def test_signalling_socket_answers_hostile_messages_with_errors(redis_url: str) -> None:
    """Seen before: a 100k-deep JSON, a second offer, an audio-only offer or an 8 KB session id dropped the
    socket with a traceback."""
    with sockets(redis_url) as gateway:
        with gateway.websocket_connect(f"/ws/webrtc/{'7' * 8000}?token=x") as refused:
            with pytest.raises(WebSocketDisconnect) as closed:
                refused.receive_text()
            assert closed.value.code == 4404
        session = gateway.post("/api/webrtc/stream/1").json()
        with gateway.websocket_connect(session["signaling_url"]) as ws:
            audio_only = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" \
                         "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:0 PCMU/8000\r\n"  # fmt: skip
            hostile = [
                ("[" * 100_000 + "]" * 100_000, "larger than"),
                ("[" * 500 + "]" * 500, f"deeper than {MAX_JSON_DEPTH}"),
                (json.dumps({"type": "offer", "sdp": audio_only}), "offer"),
                (json.dumps({"type": "answer", "sdp": "v=0\r\nm=video"}), "no offer of ours"),
                (json.dumps({"type": "candidate", "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",
                                                                "sdpMLineIndex": "zero"}}), "sdpMLineIndex"),
            ]  # fmt: skip
            for text, reason in hostile:
                ws.send_text(text)
                reply = json.loads(ws.receive_text())
                assert reply["type"] == "error" and reason in reply["message"], (text[:40], reply)
            ws.send_bytes(b"\x00binary")
            assert "text frames" in json.loads(ws.receive_text())["message"]
            ws.send_text(json.dumps({"type": "request-offer"}))
            assert json.loads(ws.receive_text())["type"] == "offer"
            ws.send_text(json.dumps({"type": "request-offer"}))  # a second negotiation in one session
            assert "negotiated already" in json.loads(ws.receive_text())["message"]
        assert gateway.get("/api/streams/status").json()["sessions"] == []


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_sessions_that_never_connect_give_back_their_sockets(redis_url: str) -> None:
    """Seen before: 1,000 never-completed sessions held 1,040 file descriptors after they were freed."""
    async with api(redis_url, webrtc_max_pending=500, webrtc_max_pending_per_client=500,
                   webrtc_max_sessions_per_user=500, webrtc_negotiation_timeout_s=1.0) as http:  # fmt: skip
        await http.get("/healthz")
        before = open_files()
        for _ in range(60):  # each gathers ICE candidates: sockets of its own
            assert (await http.post("/api/webrtc/stream/1", json={"server_offer": True})).status_code == 201
        assert open_files() > before + 30

        async def all_reaped() -> bool:
            return not (await http.get("/api/streams/status")).json()["sessions"]

        await wait_until_async(all_reaped, 10.0, interval_s=0.2, what="the reaper to end sessions that never connected")
        assert open_files() <= before + 5, (before, open_files())
