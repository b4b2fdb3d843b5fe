"""Redis clients with bounded waits: a dead or slow Redis costs a caller at most timeout_s.
Every process makes its clients here (the threaded ones sync, the asyncio ones async)."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

# Delete a lease only if we hold it (its value is ours): compare and delete in one step. The analyzer's
# camera leases and ingest's use it alike.
RELEASE_IF_HELD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


# Renew a lease we hold, or take it if nobody does (1); 0 when another holds it. Ingest's camera leases
# and the recorder's duties use it.
KEEP_OR_TAKE = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not holder then redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[2]) return 1 end
return 0
"""


def sync_client(url: str, timeout_s: float) -> redis.Redis:
    # No retries: redis-py's default retries would multiply the wait past the timeout.
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


# A client that makes blocking reads (XREAD BLOCK of a second) waits on its socket for the block
# and then the answer: its socket timeout is this many Redis timeouts (5 s by default), its
# connection timeout still one.
BLOCKING_READ_FACTOR = 5


def async_client(url: str, timeout_s: float, blocking_reads: bool = False) -> aioredis.Redis:
    """The asyncio twin of sync_client, with the same bounded waits and no retries."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout_s * (BLOCKING_READ_FACTOR if blocking_reads else 1),
        socket_connect_timeout=timeout_s,
        retry=AsyncRetry(NoBackoff(), 0),
        health_check_interval=0,
    )


def async_pool_client(url: str, timeout_s: float, max_connections: int) -> aioredis.Redis:
    """An asyncio client for many tasks at once that makes blocking reads: at most max_connections
    connections; past them a call waits up to timeout_s for a free one, then fails."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s * BLOCKING_READ_FACTOR,
        socket_connect_timeout=timeout_s,
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: closing the client closes its connections
