"""Door logic: mode and schedule decide the lock, overrides expire, commands answer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from sentra_tunnel.agent.controller import CommandError, DoorController, Override
from sentra_tunnel.door_schema import DoorConfig, DoorState

WORKDAYS_8_TO_18 = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}


def states_of(controller: DoorController) -> asyncio.Queue:
    states: asyncio.Queue = asyncio.Queue()
    controller.on_state(states.put_nowait)
    return states


async def next_state(states: asyncio.Queue) -> DoorState:
    return await asyncio.wait_for(states.get(), timeout=2)


@pytest.mark.asyncio
async def test_auto_follows_schedule_in_configured_timezone(controller, clock):
    states = states_of(controller)
    await controller.handle("set_config", {"schedule": [WORKDAYS_8_TO_18]})
    assert controller.state.lock == "unlocked"  # Wednesday 10:00 Berlin
    assert (await next_state(states)).lock == "unlocked"
    clock.advance(hours=8)  # 18:00 Berlin
    controller.evaluate()
    assert (await next_state(states)).lock == "locked"
    await controller.handle("set_config", {"timezone": "America/New_York"})  # 12:00 there
    assert controller.state.lock == "unlocked"


@pytest.mark.asyncio
async def test_modes_override_the_schedule(controller):
    await controller.handle("set_config", {"schedule": [WORKDAYS_8_TO_18]})
    result = await controller.handle("override", {"mode": "locked"})
    assert result == {"door": "closed", "lock": "locked", "mode": "locked", "override_until": None}
    result = await controller.handle("override", {"mode": "open"})
    assert (result["lock"], result["mode"]) == ("unlocked", "open")
    result = await controller.handle("override", {"mode": "auto"})
    assert (result["lock"], result["mode"]) == ("unlocked", "auto")


@pytest.mark.asyncio
async def test_timed_override_reports_until_from_the_clock(controller, clock):
    result = await controller.handle("override", {"mode": "open", "duration_s": 3600})
    assert result["override_until"] == "2026-11-25T10:00:00Z"
    assert controller.state.override_until == clock() + timedelta(hours=1)


@pytest.mark.asyncio
async def test_override_expires_back_to_auto_offline(controller, clock):
    states = states_of(controller)
    controller.set_override("open", clock() + timedelta(seconds=0.05))
    opened = await next_state(states)
    assert (opened.mode, opened.lock) == ("open", "unlocked")
    expired = await next_state(states)
    assert (expired.mode, expired.lock, expired.override_until) == ("auto", "locked", None)


@pytest.mark.asyncio
async def test_replacing_an_override_cancels_the_old_expiry(controller, clock):
    controller.set_override("open", clock() + timedelta(seconds=0.02))
    controller.set_override("locked", None)
    states = states_of(controller)
    controller.set_override("open", clock() + timedelta(seconds=0.1))
    assert (await next_state(states)).mode == "open"
    # Had the first timer survived it would have fired after 0.02 s, before this one.
    assert (await next_state(states)).mode == "auto"
    assert controller.mode == "auto"


@pytest.mark.asyncio
async def test_open_unlocks_for_the_configured_duration(controller, sim_door):
    states = states_of(controller)
    await controller.handle("set_config", {"open_duration_s": 1})
    result = await controller.handle("open", {})
    assert result["opened"] is True
    assert result["state"]["lock"] == "unlocked"
    assert (await next_state(states)).lock == "unlocked"
    assert (await next_state(states)).lock == "locked"


@pytest.mark.asyncio
async def test_open_in_locked_mode_is_refused(controller, sim_door):
    await controller.handle("override", {"mode": "locked"})
    with pytest.raises(CommandError) as info:
        await controller.handle("open", {"duration_s": 3})
    assert info.value.code == "mode_locked"
    assert not sim_door.unlocked


@pytest.mark.asyncio
async def test_locking_ends_a_running_timed_open(controller, sim_door):
    await controller.handle("open", {"duration_s": 30})
    await controller.handle("override", {"mode": "locked"})
    assert not sim_door.unlocked


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("open", {"duration_s": 0}),
        ("open", {"duration_s": "3"}),
        ("open", ["not", "an", "object"]),
        ("set_config", {"open_duration_s": 31}),
        ("set_config", {"timezone": "Nowhere/Land"}),
        ("set_config", {"schedule": [{"days": ["mon"], "from": "10:00", "to": "09:00"}]}),
        ("override", {"mode": "open", "duration_s": 5, "until": "2999-01-01T00:00:00Z"}),
        ("override", {}),
    ],
)
async def test_invalid_params(controller, name, params):
    before = controller.config
    with pytest.raises(CommandError) as info:
        await controller.handle(name, params)
    assert info.value.code == "invalid_params"
    assert info.value.message
    assert controller.config == before


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["reboot", "", None, ["open"]])
async def test_unknown_command(controller, name):
    with pytest.raises(CommandError) as info:
        await controller.handle(name, {})
    assert info.value.code == "unknown_command"


@pytest.mark.asyncio
async def test_status_and_get_config(controller):
    assert await controller.handle("status", {}) == {
        "door": "closed",
        "lock": "locked",
        "mode": "auto",
        "override_until": None,
    }
    assert await controller.handle("get_config", None) == {
        "open_duration_s": 5,
        "timezone": "Europe/Berlin",
        "schedule": [],
    }


@pytest.mark.asyncio
async def test_contact_change_emits_state(controller, sim_door):
    states = states_of(controller)
    sim_door.set_contact(True)
    assert (await next_state(states)).door == "open"


@pytest.mark.asyncio
async def test_set_config_and_override_are_stored(sim_door, clock):
    saved = []
    controller = DoorController(
        sim_door, DoorConfig(), store=lambda c, o: saved.append((c, o)), clock=clock
    )
    config = await controller.handle("set_config", {"open_duration_s": 9})
    assert config["open_duration_s"] == 9
    await controller.handle("override", {"mode": "locked", "duration_s": 60})
    assert saved[0] == (DoorConfig(open_duration_s=9), None)
    assert saved[1][1] == Override(mode="locked", until=clock() + timedelta(seconds=60))
    controller.stop()


@pytest.mark.asyncio
async def test_failed_save_keeps_the_old_config(sim_door, clock):
    def broken_store(config, override):
        raise OSError("read-only file system")

    controller = DoorController(sim_door, DoorConfig(), store=broken_store, clock=clock)
    with pytest.raises(CommandError) as info:
        await controller.handle("set_config", {"open_duration_s": 9})
    assert info.value.code == "config_write_failed"
    assert controller.config.open_duration_s == 5


@pytest.mark.asyncio
async def test_stored_override_is_restored_unless_expired(sim_door, clock):
    later = Override(mode="locked", until=clock() + timedelta(hours=1))
    controller = DoorController(sim_door, DoorConfig(), override=later, clock=clock)
    assert controller.state.mode == "locked"
    controller.stop()
    past = Override(mode="open", until=clock() - timedelta(seconds=1))
    controller = DoorController(sim_door, DoorConfig(), override=past, clock=clock)
    assert controller.state.mode == "auto"
    assert not sim_door.unlocked
