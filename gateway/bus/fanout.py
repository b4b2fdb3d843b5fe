"""One reader, many listeners: a source task that runs while anyone listens and hands each item to
every listener's bounded queue.

The gateway reads each camera's frames once (for every MJPEG client and WebRTC feed of that
camera) and the event channel once (for every `/ws/events` client), so no client behaviour
costs Redis a connection. A slow listener loses its oldest items, counted, and never slows
the reader or the other listeners. The source is restarted with backoff when it fails (Redis
away, a bug), so listeners simply see a pause.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 2.0  # Redis back means pictures back within about two seconds


class TooManyListeners(Exception):
    pass


def offer_dropping_oldest(queue: asyncio.Queue[T], item: T) -> int:
    """Put item in the bounded queue; a full queue loses its oldest first (a slow reader sees the
    newest: what matters live). How many items were lost (0 or 1)."""
    lost = 0
    if queue.full():
        queue.get_nowait()
        lost = 1
    queue.put_nowait(item)
    return lost


class Listener(Generic[T]):
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[T] = asyncio.Queue(size)
        self.dropped = 0

    def offer(self, item: T) -> None:
        self.dropped += offer_dropping_oldest(self.queue, item)

    async def get(self) -> T:
        return await self.queue.get()


class Fanout(Generic[T]):
    def __init__(
        self,
        name: str,
        source: Callable[[Fanout[T]], Awaitable[None]],
        queue_size: int,
        max_listeners: int,
    ) -> None:
        self.name = name
        self._source = source
        self.queue_size = queue_size
        self.max_listeners = max_listeners
        self.listeners: set[Listener[T]] = set()
        self.failures = 0
        self._published = True  # since the last failure; starts True so the first failure is logged
        self._task: asyncio.Task[None] | None = None

    def listen(self, queue_size: int | None = None) -> Listener[T]:
        if len(self.listeners) >= self.max_listeners:
            raise TooManyListeners(f"{self.name} has {len(self.listeners)} listeners already")
        listener: Listener[T] = Listener(queue_size or self.queue_size)
        self.listeners.add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"fanout-{self.name}")
        return listener

    def leave(self, listener: Listener[T]) -> None:
        self.listeners.discard(listener)

    def publish(self, item: T) -> None:
        self._published = True
        for listener in list(self.listeners):
            listener.offer(item)

    async def close(self, timeout_s: float = 2.0) -> None:
        self.listeners.clear()
        if self._task is not None:
            self._task.cancel()
            # Waited for with a timeout: a reader cut off inside redis-py's pub/sub clean-up was seen
            # to never finish (in-process tests), and a shutdown must not hang on it.
            done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
            if not done:
                log.warning("%s: reader did not stop within %g s; leaving it", self.name, timeout_s)
            elif not self._task.cancelled() and self._task.exception() is not None:
                log.warning("%s: reader ended with %r", self.name, self._task.exception())

    async def _run(self) -> None:
        """Run the source while anyone listens; restart it with backoff when it fails."""
        delay = BACKOFF_FIRST_S
        while self.listeners:
            try:
                await self._source(self)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis away, or a bug: listeners see a pause, never an end
                self.failures += 1
                if self._published:  # a new run of failures: say so once, not every retry
                    delay = BACKOFF_FIRST_S
                    log.warning("%s: reader failed, retrying until it works: %s: %s", self.name, type(e).__name__, e)
                self._published = False
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(BACKOFF_MAX_S, delay * 2)
