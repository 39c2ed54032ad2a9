"""Fan-out of live device events to whoever watches (portal streams, tests).

In-process now: a set of bounded per-subscriber queues. The scale-out step puts Redis behind
the same `publish`/`subscribe` calls, so callers never change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 100


class SubscriberTooSlow(Exception):
    """The subscriber fell behind; it should reconnect and start from the current state."""


class Subscription:
    def __init__(self, accepts: Callable[[dict], bool]):
        self.accepts = accepts
        self.queue: asyncio.Queue[dict] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self.overflowed = False

    def offer(self, event: dict) -> None:
        if self.overflowed or not self.accepts(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next(self) -> dict:
        if self.overflowed:
            raise SubscriberTooSlow()
        event = await self.queue.get()
        return event

    async def __aiter__(self) -> AsyncIterator[dict]:
        while True:
            yield await self.next()


class LocalBroker:
    """Events within one process."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    async def publish(self, event: dict) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(event)

    @asynccontextmanager
    async def subscribe(self, accepts: Callable[[dict], bool] = lambda event: True):
        """Yield a Subscription that receives the events `accepts` lets through."""
        subscription = Subscription(accepts)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
