"""LocalBroker: events reach the subscriptions that accept them, a slow one is cut loose rather
than buffered, shutdown ends them all, and commands reach the hub only with the right key."""

from __future__ import annotations

import pytest

from sentra_tunnel.tunnel.broker import (
    SUBSCRIBER_QUEUE_SIZE,
    LocalBroker,
    SubscriberTooSlow,
    user_changed_event,
)


def door_event(tenant_id: int, n: int = 0) -> dict:
    return {"type": "device", "device": {"id": n}, "tenant_id": tenant_id, "shop_id": 1}


async def test_each_subscription_gets_only_what_it_accepts():
    broker = LocalBroker()
    async with (
        broker.subscribe(lambda event: event.get("tenant_id") == 1) as ones,
        broker.subscribe() as everything,
    ):
        assert broker.subscriber_count == 2
        for event in (door_event(2), door_event(1), user_changed_event(7)):
            await broker.publish(event)
        assert await ones.next() == door_event(1)
        assert ones.queue.empty()
        assert [await everything.next() for _ in range(3)][2] == user_changed_event(7)
    assert broker.subscriber_count == 0


async def test_a_subscription_that_falls_behind_is_ended_not_buffered():
    broker = LocalBroker()
    async with broker.subscribe() as slow:
        for n in range(SUBSCRIBER_QUEUE_SIZE + 1):
            broker.publish_nowait(door_event(1, n))
        assert slow.queue.qsize() == SUBSCRIBER_QUEUE_SIZE
        with pytest.raises(SubscriberTooSlow):
            await slow.next()


async def test_shutdown_ends_every_subscription_even_a_full_one():
    broker = LocalBroker()
    async with broker.subscribe() as waiting, broker.subscribe() as full:
        for n in range(SUBSCRIBER_QUEUE_SIZE):
            broker.publish_nowait(door_event(1, n))
        await waiting.next()
        broker.close()
        for subscription in (waiting, full):
            with pytest.raises(SubscriberTooSlow):
                await subscription.next()


class RecordingHub:
    def __init__(self):
        self.delivered, self.closed, self.resolved = [], [], []

    def deliver_local(self, device_id, frame, key_id):
        self.delivered.append((device_id, frame["id"], key_id))
        return key_id == "current"

    def close_local(self, device_id, code, reason):
        self.closed.append((device_id, code))

    async def resolve(self, command_id, reply):
        self.resolved.append((command_id, reply))


async def test_commands_closes_and_replies_reach_the_bound_hub():
    broker, hub = LocalBroker(), RecordingHub()
    assert not await broker.deliver(1, {"id": "c0"}, "current")  # no hub bound yet
    broker.bind(hub)
    assert await broker.deliver(1, {"id": "c1"}, "current")
    assert not await broker.deliver(1, {"id": "c2"}, "stale")
    await broker.close_device(1, 4001, "revoked")
    await broker.reply("node", "c1", "the reply")
    assert hub.delivered == [(1, "c1", "current"), (1, "c2", "stale")]
    assert hub.closed == [(1, 4001)]
    assert hub.resolved == [("c1", "the reply")]
