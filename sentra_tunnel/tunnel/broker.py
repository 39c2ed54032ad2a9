"""Between processes: live device events, and commands for a tunnel held elsewhere.

In-process now: a set of bounded per-subscriber queues, and one hub that holds every tunnel.
The scale-out step puts Redis behind the same calls (a presence key per device naming its node,
a channel per node for commands, replies and closes, one channel for events), so the hub and the
routes never change. Event shapes:
`{"type": "device", "device": Device, "tenant_id", "shop_id"}` on every change,
`{"type": "device_deleted", "device_id", "tenant_id", "shop_id"}`, and
`{"type": "user_changed", "user_id"}` when a user's sessions or access changed: only that user's
streams take it, and each re-reads its own session (the event names no session and no secret).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

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
        if event is None:  # the broker is closing: end like a slow subscriber, to reconnect
            raise SubscriberTooSlow()
        return event

    def end(self) -> None:
        self.overflowed = True
        with contextlib.suppress(asyncio.QueueFull):  # a full queue has no one waiting on it
            self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[dict]:
        while True:
            yield await self.next()


def device_event(device) -> dict:
    return {
        "type": "device",
        "device": device.to_dict(),
        "tenant_id": device.tenant_id,
        "shop_id": device.shop_id,
    }


def device_deleted_event(device) -> dict:
    return {
        "type": "device_deleted",
        "device_id": device.id,
        "tenant_id": device.tenant_id,
        "shop_id": device.shop_id,
    }


def user_changed_event(user_id: int) -> dict:
    return {"type": "user_changed", "user_id": user_id}


class Broker(Protocol):
    """Between nodes: what the hub and the live pages ask of the event and command bus.

    `LocalBroker` is the one-process version; a Redis broker implements the same calls.
    """

    def bind(self, hub) -> None: ...

    async def deliver(self, device_id: int, frame: dict, key_id: str | None = None) -> bool: ...

    async def reply(self, node: str, command_id: str, reply) -> None: ...

    async def close_device(self, device_id: int, code: int, reason: str) -> None: ...

    async def claim(self, device_id: int, node: str) -> None: ...

    async def release(self, device_id: int, node: str) -> None: ...

    async def publish(self, event: dict) -> None: ...

    def publish_nowait(self, event: dict) -> None:
        """Publish from synchronous code (a model's change hook) without waiting, in order with
        `publish`; Redis: queued for the node's publishing task."""

    def subscribe(self, accepts: Callable[[dict], bool]): ...

    def close(self) -> None: ...


class LocalBroker:
    """Events and tunnels within one process: this process is the only node."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._hub = None

    def bind(self, hub) -> None:
        """The hub of this process; the broker hands it frames and replies meant for this node."""
        self._hub = hub

    async def deliver(self, device_id: int, frame: dict, key_id: str | None = None) -> bool:
        """Hand a command frame to whichever node holds the device's tunnel (opened with this
        key, when given); False when none does."""
        return self._hub is not None and self._hub.deliver_local(device_id, frame, key_id)

    async def reply(self, node: str, command_id: str, reply) -> None:
        """Send a device's reply back to the node waiting for it."""
        if self._hub is not None:
            await self._hub.resolve(command_id, reply)

    async def close_device(self, device_id: int, code: int, reason: str) -> None:
        """Close the device's tunnel on whichever node holds it (revocation, deletion)."""
        if self._hub is not None:
            self._hub.close_local(device_id, code, reason)

    async def claim(self, device_id: int, node: str) -> None:
        """This node now holds the tunnel (Redis: set the presence key)."""

    async def release(self, device_id: int, node: str) -> None:
        """This node no longer holds the tunnel (Redis: delete the key if still ours)."""

    async def publish(self, event: dict) -> None:
        self.publish_nowait(event)

    def publish_nowait(self, event: dict) -> None:
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

    def close(self) -> None:
        """End every subscription (shutdown): live pages reconnect to whoever serves next."""
        for subscription in list(self._subscriptions):
            subscription.end()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
