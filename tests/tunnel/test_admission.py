"""Admission to /ws: handshakes in progress are bounded (503 busy), upgrades are limited per
address and per key (429), and a refused upgrade is plain HTTP that leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest
from quart.testing import WebsocketResponseError

from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.device import Device
from sentra_tunnel.tunnel import admission as admission_module
from sentra_tunnel.tunnel import http as tunnel_http
from sentra_tunnel.tunnel.admission import RETRY_AFTER_S
from tests.support.api import audit_rows, error_code

from .fakes import STATE, WAIT_S, FakeDevice

ADDRESS, OTHER_ADDRESS = "127.0.0.1", "127.0.0.2"
HELLO = {"type": "hello", "agent_version": "test-1", "state": STATE}
STATE_EVENT = {"type": "event", "event": "state", "data": STATE}


class DeviceAt(FakeDevice):
    """A FakeDevice whose upgrade comes from `address`."""

    def __init__(self, app, api_key: str, address: str = ADDRESS):
        super().__init__(app, api_key)
        self.address = address

    async def __aenter__(self) -> DeviceAt:
        self._context = self.app.test_client().websocket(
            "/ws",
            headers={"Authorization": f"Bearer {self.api_key}"},
            scope_base={"client": (self.address, 40000)},
        )
        self.ws = await self._context.__aenter__()
        return self


async def refused(app, api_key: str, address: str = ADDRESS):
    """The plain HTTP response that refused an upgrade."""
    async with DeviceAt(app, api_key, address) as attempt:
        # Said at once, so an upgrade that was wrongly accepted fails fast with its welcome.
        await attempt.send(HELLO)
        with pytest.raises(WebsocketResponseError) as refusal:
            await attempt.receive()
        assert not attempt.ws.accepted
    return refusal.value.response


async def upgraded_without_hello(device: FakeDevice) -> None:
    """Prove the upgrade was accepted while no hello was sent: a frame before hello is refused."""
    await device.send(STATE_EVENT)
    assert (await device.receive())["error"]["code"] == "invalid_format"


def retry_after(response, most: int = 60) -> int:
    value = response.headers.get("Retry-After", "")
    assert value.isdigit(), f"Retry-After {value!r} is not whole seconds"
    assert 1 <= int(value) <= most
    return int(value)


def wrong_secret(api_key: str) -> str:
    """A key with the same key id and a wrong secret: counted against the key, then 401."""
    return f"{api_key.partition('.')[0]}.{'x' * 43}"


async def assert_never_connected(world, device_id: int) -> None:
    """No tunnel in the hub, offline in the database and the API, no connect in the audit."""
    assert device_id not in world.hub.connections
    row = await Device.aget(Device.id == device_id)
    assert (row.online, row.generation) == (False, 0)
    status = await world.admin.get(f"/api/devices/{device_id}/status")
    assert (await status.get_json())["device"]["online"] is False
    entries = await audit_rows(
        AuditEntry.select().where(AuditEntry.target == f"device:{device_id}")
    )
    assert "device.connect" not in [entry.action for entry in entries]


def marked_online(device_id: int):
    """A broker filter for the event saying this device is online."""
    return lambda event: (
        event["type"] == "device"
        and event["device"]
        == {
            **event["device"],
            "id": device_id,
            "online": True,
        }
    )


async def test_a_handshake_in_progress_holds_the_only_slot(world_with):
    world = await world_with(handshake_concurrency=1)
    first, second = await world.device("Front door"), await world.device("Back door")
    async with DeviceAt(world.app, first.api_key) as early:
        await upgraded_without_hello(early)
        response = await refused(world.app, second.api_key)
        assert response.status_code == 503
        assert await error_code(response) == "busy"
        retry_after(response, most=RETRY_AFTER_S[1])
        await assert_never_connected(world, second.id)

        async with world.broker.subscribe(marked_online(first.id)) as events:
            await early.hello()
            # The slot is given back once the device is marked online, just after the welcome.
            await asyncio.wait_for(events.next(), WAIT_S)
        async with DeviceAt(world.app, second.api_key) as late:
            await late.hello()
            assert second.id in world.hub.connections


async def test_a_refused_attempt_does_not_take_the_slot(world_with):
    world = await world_with(handshake_concurrency=1)
    first, second = await world.device("Front door"), await world.device("Back door")
    async with DeviceAt(world.app, first.api_key) as early:
        await upgraded_without_hello(early)
        for _ in range(3):
            assert (await refused(world.app, second.api_key)).status_code == 503
        await early.hello()
    await world.hub.drain()
    assert world.app.extensions["admission"].in_progress == 0
    async with DeviceAt(world.app, second.api_key) as late:
        await late.hello()


async def test_the_bound_holds_while_the_rate_limiter_answers_slowly(world_with, monkeypatch):
    """With REDIS_URL every limiter call is a network round trip; upgrades arriving together
    must still not start more handshakes than the bound."""
    world = await world_with(handshake_concurrency=1)
    devices = [await world.device(f"Door {number}") for number in range(4)]
    local_hit = admission_module.hit

    async def round_trip(*args):
        await asyncio.sleep(0)  # where a networked limiter gives up the loop
        await local_hit(*args)

    monkeypatch.setattr(admission_module, "hit", round_trip)

    async def outcome(attempt: DeviceAt):
        await attempt.send(STATE_EVENT)
        try:
            return (await attempt.receive())["error"]["code"]  # accepted: not hello
        except WebsocketResponseError as refusal:
            return refusal.response.status_code

    async with contextlib.AsyncExitStack() as stack:
        attempts = [
            await stack.enter_async_context(DeviceAt(world.app, device.api_key))
            for device in devices
        ]
        outcomes = Counter(await asyncio.gather(*(outcome(attempt) for attempt in attempts)))
        in_progress = world.app.extensions["admission"].in_progress
    assert outcomes == {"invalid_format": 1, 503: 3}, f"{dict(outcomes)}, {in_progress} in progress"


async def test_the_third_upgrade_with_one_key_in_a_minute_is_429(world_with):
    world = await world_with(device_connect_key_limit="2/minute")
    door, other = await world.device("Front door"), await world.device("Back door")
    for _ in range(2):
        async with DeviceAt(world.app, door.api_key) as fake:
            await fake.hello()
    response = await refused(world.app, door.api_key)
    assert response.status_code == 429
    assert await error_code(response) == "rate_limited"
    retry_after(response)
    await world.hub.drain()
    assert door.id not in world.hub.connections
    async with DeviceAt(world.app, other.api_key) as fake:
        await fake.hello()


async def test_the_fourth_upgrade_from_one_address_is_429_before_any_key_lookup(
    world_with, monkeypatch
):
    world = await world_with(device_connect_ip_limit="3/minute")
    door = await world.device()
    lookups = []
    authenticate_key = tunnel_http.authenticate_key

    async def counted(key):
        lookups.append(key)
        return await authenticate_key(key)

    monkeypatch.setattr(tunnel_http, "authenticate_key", counted)
    for key in ("nonsense", "0123456789abcdef.wrong-secret", wrong_secret(door.api_key)):
        assert (await refused(world.app, key)).status_code == 401
    assert len(lookups) == 3

    for key in (door.api_key, "nonsense"):  # the right key as much as a wrong one
        response = await refused(world.app, key)
        assert response.status_code == 429
        assert await error_code(response) == "rate_limited"
        retry_after(response)
    assert len(lookups) == 3
    await assert_never_connected(world, door.id)

    async with DeviceAt(world.app, door.api_key, OTHER_ADDRESS) as fake:
        await fake.hello()


async def _busy(world, target):
    holder = await world.device("Holder")
    async with DeviceAt(world.app, holder.api_key) as early:
        await upgraded_without_hello(early)
        response = await refused(world.app, target.api_key)
        assert world.app.extensions["admission"].in_progress == 1  # only the holder's
    return response


async def _over_key_limit(world, target):
    for _ in range(2):
        assert (await refused(world.app, wrong_secret(target.api_key))).status_code == 401
    return await refused(world.app, target.api_key)


async def _over_address_limit(world, target):
    for _ in range(2):
        assert (await refused(world.app, "nonsense")).status_code == 401
    return await refused(world.app, target.api_key)


REFUSALS = [
    ("busy", {"handshake_concurrency": 1}, _busy, 503),
    ("per-key", {"device_connect_key_limit": "2/minute"}, _over_key_limit, 429),
    ("per-address", {"device_connect_ip_limit": "2/minute"}, _over_address_limit, 429),
]


@pytest.mark.parametrize(
    "overrides, refuse, status", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
async def test_a_refused_upgrade_never_half_opens(world_with, overrides, refuse, status):
    world = await world_with(**overrides)
    target = await world.device("Target")
    response = await refuse(world, target)
    assert response.status_code == status
    retry_after(response)
    await world.hub.drain()
    await assert_never_connected(world, target.id)
    assert world.app.extensions["admission"].in_progress == 0


async def test_a_refused_reconnect_leaves_the_live_tunnel_alone(world_with):
    world = await world_with(device_connect_key_limit="1/minute")
    door = await world.device()
    async with DeviceAt(world.app, door.api_key) as fake:
        await fake.hello()
        tunnel = world.hub.connections[door.id]
        assert (await refused(world.app, door.api_key)).status_code == 429
        assert world.hub.connections.get(door.id) is tunnel
        request = asyncio.ensure_future(world.admin.post(f"/api/commands/{door.id}/status"))
        command = await fake.receive()
        await fake.answer(command, STATE)
        response = await asyncio.wait_for(request, WAIT_S)
        assert response.status_code == 200
