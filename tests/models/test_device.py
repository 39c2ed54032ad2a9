"""Device queries: what a user may see, found by key or token, and presence laid over rows."""

from __future__ import annotations

import pytest

from sentra_tunnel.errors import APIError
from sentra_tunnel.models.device import (
    Device,
    claim_registration,
    devices_visible_to,
    find_by_key_id,
    get_device_for,
    unwritten_presence,
)


@pytest.fixture
async def doors(tenant, other_tenant):
    """One door in each of the tenant's shops, and one of the other tenant."""
    return {
        "a": await Device.acreate(tenant=tenant.id, shop=tenant.shop_a, name="A door"),
        "b": await Device.acreate(tenant=tenant.id, shop=tenant.shop_b, name="B door"),
        "other": await Device.acreate(
            tenant=other_tenant.id, shop=other_tenant.shop_a, name="Kiosk"
        ),
    }


def names(devices) -> list[str]:
    return [device.name for device in devices]


async def test_each_user_sees_the_doors_of_their_tenant_and_shops(tenant, superadmin, doors):
    assert names(await devices_visible_to(tenant.admin)) == ["A door", "B door"]
    assert names(await devices_visible_to(tenant.staff)) == ["A door"]  # limited to shop A
    assert len(await devices_visible_to(superadmin)) == 3


@pytest.mark.parametrize("door", ["b", "other"])
async def test_a_door_one_may_not_see_is_not_found(tenant, doors, door):
    with pytest.raises(APIError) as refused:
        await get_device_for(tenant.staff, doors[door].id)
    assert refused.value.status == 404


@pytest.mark.parametrize("device_id", ["1x", None, -1, 2**70, ""])
async def test_an_id_that_is_no_id_is_not_found(tenant, doors, device_id):
    with pytest.raises(APIError) as refused:
        await get_device_for(tenant.admin, device_id)
    assert refused.value.status == 404


async def test_in_memory_visibility_matches_the_query(tenant, other_tenant, superadmin, doors):
    users = [tenant.admin, tenant.staff, tenant.viewer, other_tenant.admin, superadmin]
    for user in users:
        seen = {device.id for device in await devices_visible_to(user)}
        assert {d.id for d in doors.values() if d.is_visible_to(user)} == seen


async def test_a_registration_token_is_spent_once(doors):
    door = doors["a"]
    await Device.update(registration_token_hash="h1").where(Device.id == door.id).aexecute()
    assert await claim_registration(door.id, "h1", key_id="k1", registered=True)
    assert not await claim_registration(door.id, "h1", key_id="k2", registered=True)
    assert (await find_by_key_id("k1")).id == door.id
    assert await find_by_key_id("k2") is None


async def test_reads_show_presence_the_tunnel_has_not_stored_yet(tenant, doors):
    unwritten_presence()[doors["a"].id] = {"online": True, "agent_version": "1.2.3"}
    try:
        door = await get_device_for(tenant.admin, doors["a"].id)
        listed = {d.id: d for d in await devices_visible_to(tenant.admin)}
    finally:
        unwritten_presence().clear()
    assert (door.online, door.agent_version) == (True, "1.2.3")
    assert listed[doors["a"].id].online and not listed[doors["b"].id].online
