"""Webhooks and notifications through the bridge, with real processes on real footage: signed
deliveries, retries after 500s, a receiver that never answers delaying no other, apprise's json://
bringing the snapshot, and the bridge SIGKILLed mid-stream delivering afterwards what it had not,
once, and nothing twice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from shared import keys
from shared.detections import Event
from tests.support import DATA, ServiceRun, wait_until, web, write_camera_file
from tests.support.receiver import Receiver

CLIP = DATA / "TUD-Campus.mp4"
SECRET = "webhook-secret-0123456789abcdef"


def stream_deliveries(rdb: redis.Redis, after: str) -> list[str]:
    """`<event id>:<phase>` of every event message on the stream after `after`."""
    entries = rdb.xrange(keys.EVENTS_STREAM, f"({after}", "+")
    events = [Event.from_entry(fields) for _id, fields in entries]  # type: ignore[union-attr]
    return [f"{e.id}:{e.phase.value}" for e in events]


def last_id(rdb: redis.Redis) -> str:
    found = rdb.xrevrange(keys.EVENTS_STREAM, count=1)
    return found[0][0].decode() if found else "0-0"  # type: ignore[index]


def bridge_targets(base: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in web.get(f"{base}/api/system").json()["bridge"]["targets"]}


@pytest.mark.timeout(240)
def test_webhooks_and_notifications_are_signed_retried_independent_and_survive_a_killed_bridge(
    ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun], bridge: Callable[..., ServiceRun],
    gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(CLIP), "fps": 10,
                                            "record": {"mode": "off"}}])  # fmt: skip
    flaky, dead, inbox = Receiver(fail_first=2), Receiver(hang=True), Receiver()
    try:
        env = {"CAMSTREAM_WEBHOOK_RETRY_S": "60", "CAMSTREAM_PUBLIC_URL": "https://cams.example"}
        base = gateway(cameras, env=env)
        dead_hook = web.post(f"{base}/api/webhooks", json={"name": "dead", "url": dead.url})
        assert dead_hook.status_code == 201 and len(dead_hook.json()["secret"]) >= 32  # generated, shown once
        hook = web.post(f"{base}/api/webhooks", json={"name": "flaky", "url": flaky.url, "secret": SECRET})
        assert hook.status_code == 201 and "secret" not in hook.json(), hook.text
        assert hook.json()["url"] == f"http://127.0.0.1:{flaky.server_address[1]}/***"
        apprise_url = f"json://127.0.0.1:{inbox.server_address[1]}/notify"
        note = web.post(f"{base}/api/notifications", json={"name": "phone", "url": apprise_url, "types": ["person"]})
        assert note.status_code == 201, note.text
        listed = web.get(f"{base}/api/webhooks").json()
        assert [w["name"] for w in listed] == ["dead", "flaky"] and SECRET not in json.dumps(listed)
        refused = web.post(f"{base}/api/webhooks", json={"name": "x", "url": "ftp://127.0.0.1/x"})
        assert refused.status_code == 422 and "http" in refused.text

        start = last_id(rdb)
        first = bridge(cameras, env=env)
        ingest(cameras, env=env)
        analyzer(cameras, env=env)

        # Signed deliveries, the first two answered 500 and retried; the dead receiver delays nothing.
        wait_until(lambda: len(flaky.delivered()) >= 4, 90.0, interval_s=0.2, what="four webhook deliveries")
        assert len(dead.posts) == 1, "the dead receiver holds its one delivery"
        attempts = Counter(p.headers["X-Camstream-Delivery"] for p in flaky.posts)
        assert attempts[flaky.posts[0].headers["X-Camstream-Delivery"]] == 3, "500, 500, then 200"
        for post in flaky.posts:
            signed = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(post.headers["X-Camstream-Signature"], signed)
            body = json.loads(post.body)
            assert body["delivery"] == post.headers["X-Camstream-Delivery"] and body["event"]["cameraName"] == "campus"
            assert body["event"]["clipUrl"].startswith("https://cams.example/api/events/")

        # The notification: a person, with the snapshot attached (apprise's json:// format).
        wait_until(inbox.delivered, 60.0, interval_s=0.2, what="the notification")
        sent = json.loads(inbox.delivered()[0].body)
        assert sent["title"].startswith("camstream: Person at campus")
        assert base64.b64decode(sent["attachments"][0]["base64"])[:2] == b"\xff\xd8"

        status = wait_until(lambda: (t := bridge_targets(base)) and t.get("webhook:1", {}).get("failures") and t,
                            10.0, what="the bridge's status")  # fmt: skip
        assert status["webhook:2"]["delivered"] >= 3 and status["webhook:2"]["failures"] == 2
        assert status["notify:3"]["delivered"] == 1 and status["webhook:1"]["delivered"] == 0
        metrics = web.get(f"{base}/metrics").text
        assert 'camstream_bridge_target_delivered_total{kind="webhook",target="webhook:2"}' in metrics

        # The bridge SIGKILLed while events flow; what came meanwhile is delivered on restart, once.
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(5)
        killed_at = last_id(rdb)
        wait_until(lambda: len(stream_deliveries(rdb, killed_at)) >= 2, 60.0, interval_s=0.2,
                   what="events while the bridge is down")  # fmt: skip
        bridge(cameras, env=env)
        time.sleep(1.0)
        upto = last_id(rdb)
        wanted = stream_deliveries(rdb, start)
        wanted = wanted[: len(wanted) - len(stream_deliveries(rdb, upto))]
        got = lambda: [p.headers["X-Camstream-Delivery"] for p in flaky.delivered()]  # noqa: E731
        wait_until(lambda: set(wanted) <= set(got()), 60.0, interval_s=0.2, what="every event delivered")
        # Each once, but for the one delivery the kill may have caught between the receiver's 2xx and
        # the cursor's commit (docs/integrations.md: receivers dedupe on X-Camstream-Delivery).
        once = Counter(got())
        repeated = [d for d, n in once.items() if n > 1]
        assert len(repeated) <= 1 and max(once.values()) <= 2, repeated
        assert SECRET not in "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))

        # Deleting a webhook stops it.
        gone = httpx.delete(f"{base}/api/webhooks/2", headers=web.headers(base))
        assert gone.status_code == 204
        wait_until(lambda: "webhook:2" not in bridge_targets(base), 10.0, what="the webhook gone from the status")
    finally:
        for receiver in (flaky, dead, inbox):
            receiver.close()
