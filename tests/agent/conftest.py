"""Fixtures for the Pi agent tests: a settable clock, a simulated door, a controller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from websockets.asyncio.server import serve

from sentra_tunnel.agent.controller import DoorController
from sentra_tunnel.agent.door import SimDoor
from sentra_tunnel.door_schema import DoorConfig

from .fakes import FakeHub

# A Wednesday: 2026-11-25 10:00 in Berlin (UTC+1 in winter).
WEDNESDAY_10_BERLIN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand; the controller reads it through `__call__`."""

    def __init__(self, now: datetime = WEDNESDAY_10_BERLIN) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def sim_door():
    door = SimDoor()
    yield door
    door.close()


@pytest_asyncio.fixture
async def controller(sim_door, clock):
    controller = DoorController(sim_door, DoorConfig(), clock=clock)
    controller.start()
    yield controller
    controller.stop()


@pytest_asyncio.fixture
async def hub():
    """A running fake tunnel server; `hub.url` is its ws:// address."""
    fake = FakeHub()
    async with serve(fake.handler, "127.0.0.1", 0, process_request=fake.check_key) as server:
        fake.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
        yield fake
