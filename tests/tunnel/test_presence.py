"""Presence written behind: no write per frame, one flush for many devices, connects batched."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models import device as device_model
from sentra_tunnel.models.device import Device
from tests.support.queries import recorded_queries

from .fakes import STATE, WAIT_S, FakeDevice, provision


@pytest.fixture
def settings(settings):
    return settings.with_overrides(register_limit="100/minute")  # a fleet registers at once


def device_updates(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.startswith('UPDATE "device"')]


async def test_state_events_write_nothing_until_the_flush(app, device, broker):
    presence = app.extensions["presence"]
    states = [{**STATE, "door": door} for door in ("open", "closed") * 10]
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        last = states[-1] | {"lock": "unlocked"}
        async with broker.subscribe(lambda event: event["device"]["state"] == last) as events:
            with recorded_queries() as statements:
                for state in [*states, last]:
                    await fake.send({"type": "event", "event": "state", "data": state})
                await asyncio.wait_for(events.next(), WAIT_S)  # every frame was handled
            assert device_updates(statements) == []
        with recorded_queries() as statements:
            await presence.store_now()
        assert len(device_updates(statements)) == 1  # the latest state and last_seen, once
    row = await Device.aget_by_id(device.id)
    assert row.state == last and row.last_seen is not None


async def test_a_fleet_connecting_at_once_shares_transactions(app, admin_client, tenant):
    presence = app.extensions["presence"]
    keys = [await provision(admin_client, tenant.shop_a.id, f"Door {n}") for n in range(20)]
    batches = presence.batches
    async with contextlib.AsyncExitStack() as stack:
        fakes = [await stack.enter_async_context(FakeDevice(app, key)) for _, key in keys]
        welcomes = await asyncio.gather(*(fake.hello() for fake in fakes))
        assert len(welcomes) == 20
        assert presence.batches - batches < 20  # connects queued meanwhile went together
        await presence.store_now()
    online = Device.select().where(Device.id.in_([device_id for device_id, _ in keys]))
    assert all(row.generation == 1 for row in await database.list(online))


async def test_one_flush_stores_every_device(app, admin_client, tenant):
    presence = app.extensions["presence"]
    keys = [await provision(admin_client, tenant.shop_a.id, f"Door {n}") for n in range(5)]
    opened = {**STATE, "door": "open"}
    async with contextlib.AsyncExitStack() as stack:
        fakes = [await stack.enter_async_context(FakeDevice(app, key)) for _, key in keys]
        for fake in fakes:
            await fake.hello()
        await presence.store_now()  # the next periodic flush is a whole interval away
        for fake in fakes:
            await fake.send({"type": "event", "event": "state", "data": opened})
            await fake.send("not json")
            await fake.receive()  # its error frame: the state before it was handled too
        with recorded_queries() as statements:
            await presence.store_now()
        assert len(device_updates(statements)) == 1  # one statement for the whole fleet
        rows = await database.list(Device.select().where(Device.state == opened))
        assert len(rows) == 5


async def test_written_behind_in_chunks_each_device_its_own_values(app, tenant, monkeypatch):
    monkeypatch.setattr(device_model, "WRITE_BEHIND_CHUNK", 2)
    doors = [
        await Device.acreate(tenant=tenant.id, shop=tenant.shop_a, name=f"Door {n}")
        for n in range(5)
    ]
    seen = [datetime(2026, 12, 2, 8, n) for n in range(5)]
    unwritten = {door.id: {"last_seen": seen[n]} for n, door in enumerate(doors)}
    unwritten[doors[0].id]["state"] = {**STATE, "door": "open"}  # another set of fields
    with recorded_queries() as statements:
        await database.run(device_model.write_presence, [], unwritten)
    assert len(device_updates(statements)) == 1 + 2  # one for door 0, two chunks for the rest
    rows = {row.id: row for row in await database.list(Device.select())}
    assert [rows[door.id].last_seen for door in doors] == seen
    assert rows[doors[0].id].state["door"] == "open" and rows[doors[1].id].state is None
