"""A short-lived cache of responses that many clients ask for at once (the first page of events:
every dashboard polls it), with one load in flight per key however many ask meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_KEYS = 256  # distinct filters kept; past it the whole cache starts afresh


class ShortCache(Generic[V]):
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._loading: dict[Hashable, asyncio.Future[V]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value loaded less than ttl_s ago, or the one being loaded now, or a new load.
        A load that fails fails every caller waiting on it, and nothing is kept."""
        found = self._values.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            future.set_result(value)
            if len(self._values) >= MAX_KEYS:
                self._values.clear()
            self._values[key] = (time.monotonic() + self.ttl_s, value)
            return value
        finally:
            del self._loading[key]
