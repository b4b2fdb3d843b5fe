"""`python -m bridge`: camstream's events and camera states out to MQTT (Home Assistant discovery
included), webhooks and notifications (docs/integrations.md). `--check` exits 0 while the bridge
writes its status."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading

import redis
import redis.asyncio as aioredis

from bridge.service import Bridge
from shared import keys
from shared.config import EXIT_UNAVAILABLE, cameras_or_exit, load_settings_or_exit
from shared.db.engine import DatabaseUnavailable
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.lifecycle import stop_on_signals
from shared.logs import setup_logging
from shared.redis_client import sync_client
from shared.secret_box import SecretBox, load_box
from shared.settings import ConfigError, Settings

log = logging.getLogger("bridge")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 0 if the bridge is running")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit("bridge")
    if args.check:
        return check(settings)
    setup_logging(settings.log_level, "bridge")
    cameras_or_exit("bridge", settings)  # the database reachable, migrated, the camera file applied
    try:
        box = load_box(settings)
    except ConfigError as e:
        print(f"camstream bridge: configuration error in {e}", file=sys.stderr)
        return 2
    stop = stop_on_signals()
    try:
        asyncio.run(_run(settings, box, stop))
    except DatabaseUnavailable as e:
        print(f"camstream bridge: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    log.info("bridge stopped")
    return 0


async def _run(settings: Settings, box: SecretBox, stop: threading.Event) -> None:
    engine = await open_database(database_url(settings), settings.database_timeout_s)
    client = aioredis.Redis.from_url(
        settings.redis_url_or_local(), socket_timeout=5.0, socket_connect_timeout=5.0, health_check_interval=0
    )
    try:
        await Bridge(settings, engine, client, box, stop).run()
    finally:
        await client.aclose()
        await engine.dispose()


def check(settings: Settings) -> int:
    try:
        alive = sync_client(settings.redis_url_or_local(), 2.0).exists(keys.bridge_status())
    except redis.RedisError as e:
        print(f"unhealthy: Redis does not answer: {type(e).__name__}")
        return 1
    print("healthy" if alive else "unhealthy: the bridge has not written its status lately")
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
