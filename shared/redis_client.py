"""Redis clients with bounded waits: a dead or slow Redis costs a caller at most timeout_s."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def sync_client(url: str, timeout_s: float) -> redis.Redis:
    # No retries: redis-py's default retries would multiply the wait past the timeout.
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
