"""The door backends: SimDoor in memory and GpioDoor on gpiozero's mock pins."""

from __future__ import annotations

import asyncio

import pytest
from gpiozero.pins.mock import MockFactory

from sentra_tunnel.agent.door import GpioDoor, SimDoor


def change_counter(door) -> asyncio.Queue:
    changes: asyncio.Queue = asyncio.Queue()
    door.on_change(lambda: changes.put_nowait((door.unlocked, door.read_contact())))
    return changes


async def next_change(changes: asyncio.Queue) -> tuple[bool, str]:
    return await asyncio.wait_for(changes.get(), timeout=2)


@pytest.mark.asyncio
async def test_sim_door_timed_unlock_relocks_by_itself():
    door = SimDoor()
    changes = change_counter(door)
    door.unlock(0.05)
    assert door.unlocked
    assert await next_change(changes) == (True, "closed")
    assert await next_change(changes) == (False, "closed")
    assert not door.unlocked


@pytest.mark.asyncio
async def test_sim_door_held_unlock_outlasts_a_timed_unlock():
    door = SimDoor()
    door.hold_unlocked(True)
    changes = change_counter(door)
    door.unlock(0.01)
    await asyncio.sleep(0.05)  # nothing to await: the point is that no change happens
    assert door.unlocked and changes.empty()
    door.hold_unlocked(False)
    assert not door.unlocked


@pytest.mark.asyncio
async def test_sim_door_contact_reports_changes_once():
    door = SimDoor()
    changes = change_counter(door)
    door.set_contact(True)
    door.set_contact(True)
    assert door.read_contact() == "open"
    assert await next_change(changes) == (False, "open")
    assert changes.empty()


@pytest.mark.asyncio
async def test_sim_door_close_cancels_unlock():
    door = SimDoor()
    door.unlock(30)
    door.close()
    assert not door.unlocked


@pytest.fixture
def pins() -> MockFactory:
    factory = MockFactory()
    yield factory
    factory.close()


@pytest.mark.asyncio
async def test_gpio_door_drives_the_relay_pin(pins):
    door = GpioDoor(relay_pin=17, contact_pin=27, bounce_s=None, pin_factory=pins)
    changes = change_counter(door)
    assert pins.pin(17).state == 0
    door.unlock(0.05)
    assert pins.pin(17).state == 1
    await next_change(changes)
    assert await next_change(changes) == (False, door.read_contact())
    assert pins.pin(17).state == 0
    door.close()


@pytest.mark.asyncio
async def test_gpio_door_active_low_relay(pins):
    door = GpioDoor(relay_pin=5, contact_pin=None, relay_active_high=False, pin_factory=pins)
    assert pins.pin(5).state == 1  # released
    door.hold_unlocked(True)
    assert pins.pin(5).state == 0
    assert door.read_contact() == "unknown"
    door.close()


@pytest.mark.asyncio
async def test_gpio_door_contact_pulled_low_means_closed(pins):
    door = GpioDoor(relay_pin=17, contact_pin=27, bounce_s=None, pin_factory=pins)
    changes = change_counter(door)
    assert door.read_contact() == "open"  # pull-up with the switch open
    pins.pin(27).drive_low()
    assert await next_change(changes) == (False, "closed")
    pins.pin(27).drive_high()
    assert await next_change(changes) == (False, "open")
    door.close()


@pytest.mark.asyncio
async def test_gpio_door_close_releases_relay(pins):
    door = GpioDoor(relay_pin=17, contact_pin=27, bounce_s=None, pin_factory=pins)
    door.hold_unlocked(True)
    assert pins.pin(17).state == 1
    door.close()
    assert pins.pin(17).state == 0
