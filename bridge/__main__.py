"""`python -m bridge`: camstream's events and camera states out to MQTT (Home Assistant discovery
included), webhooks and notifications (docs/integrations.md). `--check` exits 0 while the bridge
writes its status."""

from __future__ import annotations

import argparse
import logging
import sys
import threading

import redis

from bridge.service import Bridge
from shared import keys
from shared.cameras import Camera
from shared.process import ProcessSpec, Started, opened_database, run_async, run_process
from shared.redis_client import async_client, sync_client
from shared.secret_box import SecretBox, load_box
from shared.settings import ConfigError, Settings

log = logging.getLogger("bridge")


def box_problem(settings: Settings) -> str | None:
    """The key that opens stored integration secrets must be readable before anything starts."""
    try:
        load_box(settings)
    except ConfigError as e:
        return f"configuration error in {e}"
    return None


def run(started: Started) -> int:
    return run_async("bridge", _run(started.settings, load_box(started.settings), started.stop))


async def _run(settings: Settings, box: SecretBox, stop: threading.Event) -> int:
    async with opened_database(settings) as engine:
        # Its followers block on Redis for a second at a time: a client whose reads outlast that.
        client = async_client(settings.redis_url_or_local(), settings.redis_timeout_s, blocking_reads=True)
        try:
            await Bridge(settings, engine, client, box).run(stop)
        finally:
            await client.aclose()
    log.info("bridge stopped")
    return 0


def describe(camera: Camera) -> str:
    return f"camera {camera.id} {camera.name!r}: events out to the integrations configured"


def check(settings: Settings, _args: argparse.Namespace) -> int:
    """Healthy while the bridge's status record is in Redis (it expires when the bridge stops writing it)."""
    try:
        alive = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s).exists(keys.bridge_status())
    except redis.RedisError as e:
        print(f"unhealthy: Redis does not answer: {type(e).__name__}")
        return 1
    print("healthy" if alive else "unhealthy: the bridge has not written its status lately")
    return 0 if alive else 1


SPEC = ProcessSpec("bridge", __doc__ or "", run, check, describe, preflight=box_problem)

if __name__ == "__main__":
    sys.exit(run_process(SPEC))
