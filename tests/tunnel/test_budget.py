"""A device's frame budget: a burst is served, a flood is told once and closed with 1008, the
key then cools down, and other devices notice nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from quart.testing import WebsocketResponseError
from quart.testing.connections import WebsocketDisconnectError

from sentra_tunnel import wire as protocol
from sentra_tunnel.tunnel.admission import FLOOD_COOL_DOWN_S
from sentra_tunnel.tunnel.budget import FrameBudget
from tests.support.api import error_code

from .fakes import STATE, WAIT_S, FakeDevice

RATE, BURST = 5, 10
FLOOD = 100
STATE_EVENT = json.dumps({"type": "event", "event": "state", "data": STATE})


@pytest.fixture
async def world(world_with):
    return await world_with(device_frame_rate=RATE, device_frame_burst=BURST)


async def frames_until_closed(fake: FakeDevice) -> tuple[list[dict], int]:
    """Every frame the server sends (probes answered) until it closes; and the close code."""
    frames = []
    try:
        while True:
            frames.append(await fake.receive())
    except WebsocketDisconnectError as closed:
        return frames, closed.args[0]


async def flood(fake: FakeDevice, frames: int = FLOOD) -> None:
    for _ in range(frames):
        await fake.send(STATE_EVENT)


def went_offline(device_id: int):
    """A broker filter for the event saying this device went offline."""
    return lambda event: (
        event["type"] == "device"
        and event["device"]
        == {
            **event["device"],
            "id": device_id,
            "online": False,
        }
    )


def error_codes(frames: list[dict]) -> list[str]:
    return [frame["error"]["code"] for frame in frames if frame["type"] == "error"]


# The bucket on its own: time is moved by setting `refilled` back, not by waiting.


def spent(budget: FrameBudget, frames: int) -> list[bool]:
    return [budget.spend() for _ in range(frames)]


def test_a_full_bucket_serves_one_burst_then_drops():
    budget = FrameBudget(RATE, BURST)
    assert spent(budget, BURST) == [True] * BURST
    assert budget.spend() is False
    assert budget.dropped == 1


def test_the_bucket_refills_at_the_rate():
    budget = FrameBudget(RATE, BURST)
    spent(budget, BURST)
    budget.refilled -= 1.0  # a second later: RATE tokens back
    assert spent(budget, RATE + 1) == [True] * RATE + [False]


def test_the_bucket_never_holds_more_than_a_burst():
    budget = FrameBudget(RATE, BURST)
    budget.refilled -= 3600
    assert spent(budget, BURST + 1) == [True] * BURST + [False]


def test_flooding_only_after_more_than_a_burst_of_drops():
    budget = FrameBudget(RATE, BURST)
    spent(budget, BURST)
    assert spent(budget, BURST) == [False] * BURST
    assert not budget.flooding
    budget.spend()
    assert budget.flooding


def test_drops_keep_counting_while_the_bucket_is_only_partly_refilled():
    budget = FrameBudget(RATE, BURST)
    spent(budget, BURST + BURST // 2)
    budget.refilled -= 1.0 / RATE  # one token back: not quiet long enough to be forgiven
    assert budget.spend() is True
    assert budget.dropped == BURST // 2
    spent(budget, BURST // 2 + 1)
    assert budget.flooding


def test_a_refilled_bucket_forgets_the_drops():
    budget = FrameBudget(RATE, BURST)
    spent(budget, 2 * BURST)
    assert budget.dropped == BURST
    budget.refilled -= BURST / RATE  # quiet until the bucket is full again
    assert budget.spend() is True
    assert budget.dropped == 0
    assert not budget.flooding
    assert spent(budget, BURST - 1) == [True] * (BURST - 1)


# Through the tunnel.


async def test_a_burst_within_the_budget_is_fully_served(world):
    door = await world.device()
    async with FakeDevice(world.app, door.api_key) as fake:
        # Before hello, so none of the burst goes to the hello itself; each one is answered.
        for _ in range(BURST + 1):
            await fake.send("{oops")
        answers = [await fake.receive() for _ in range(BURST + 1)]
    assert error_codes(answers) == ["invalid_format"] * BURST + ["rate_limited"]


async def test_a_flood_is_told_once_then_closed_with_1008(world):
    door = await world.device()
    async with FakeDevice(world.app, door.api_key) as fake:
        await fake.hello()
        async with world.broker.subscribe(went_offline(door.id)) as events:
            await flood(fake)
            frames, code = await asyncio.wait_for(frames_until_closed(fake), WAIT_S)
            await asyncio.wait_for(events.next(), WAIT_S)
    assert error_codes(frames) == ["rate_limited"]
    [told] = [frame for frame in frames if frame["type"] == "error"]
    assert told["error"]["message"]
    assert code == protocol.CLOSE_POLICY
    assert door.id not in world.hub.connections


async def test_reconnecting_right_after_a_flood_is_refused_for_the_cool_down(world):
    door, other = await world.device("Front door"), await world.device("Back door")
    async with FakeDevice(world.app, door.api_key) as fake:
        await fake.hello()
        await flood(fake)
        assert (await asyncio.wait_for(frames_until_closed(fake), WAIT_S))[1] == 1008
    # An agent reconnects as soon as its socket is closed.
    async with FakeDevice(world.app, door.api_key) as again:
        await again.send({"type": "hello", "agent_version": "test-1", "state": STATE})
        with pytest.raises(WebsocketResponseError) as refusal:
            await again.receive()
    response = refusal.value.response
    assert response.status_code == 429
    assert await error_code(response) == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= FLOOD_COOL_DOWN_S
    async with FakeDevice(world.app, other.api_key) as calm:  # the cool-down is the key's own
        await calm.hello()


async def test_other_devices_are_served_during_a_flood(world):
    calm, noisy = await world.device("Front door"), await world.device("Back door")
    async with (
        FakeDevice(world.app, calm.api_key) as door,
        FakeDevice(world.app, noisy.api_key) as flooder,
    ):
        await door.hello()
        await flooder.hello()
        request = asyncio.ensure_future(world.admin.post(f"/api/commands/{calm.id}/status"))
        flooding = asyncio.ensure_future(flood(flooder))
        command = await door.receive()
        assert command["name"] == "status"
        await door.answer(command, STATE)
        response = await asyncio.wait_for(request, WAIT_S)
        assert response.status_code == 200
        assert await response.get_json() == {"ok": True, "result": STATE}
        await asyncio.wait_for(flooding, WAIT_S)
        assert (await asyncio.wait_for(frames_until_closed(flooder), WAIT_S))[1] == 1008
        # The calm door kept its tunnel: a second command after the flood is answered too.
        request = asyncio.ensure_future(world.admin.post(f"/api/commands/{calm.id}/status"))
        await door.answer(await door.receive(), STATE)
        assert (await asyncio.wait_for(request, WAIT_S)).status_code == 200
        assert calm.id in world.hub.connections
