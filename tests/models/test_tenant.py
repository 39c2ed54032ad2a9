"""Tenant and shop queries: scoped to what the user may see, and found by name within a tenant."""

from __future__ import annotations

import pytest

from sentra_tunnel.errors import APIError
from sentra_tunnel.models.tenant import (
    find_shop_by_name,
    find_tenant_by_name,
    get_shop_for,
    get_tenant,
    list_tenants,
    shop_ids_in_tenant,
    shops_visible_to,
)


async def test_shops_are_scoped_to_tenant_and_shop_limits(bakery, kiosk, superadmin):
    assert [s.name for s in await shops_visible_to(bakery.admin)] == ["Bakery A", "Bakery B"]
    assert [s.name for s in await shops_visible_to(bakery.staff)] == ["Bakery A"]
    everything = await shops_visible_to(superadmin)
    assert len(everything) == 4
    only_kiosk = await shops_visible_to(superadmin, tenant_id=kiosk.tenant.id)
    assert [s.name for s in only_kiosk] == ["Kiosk A", "Kiosk B"]


@pytest.mark.parametrize("who, shop", [("staff", "shop_b"), ("admin", "other")])
async def test_a_shop_one_may_not_see_is_not_found(bakery, kiosk, who, shop):
    target = kiosk.shop_a if shop == "other" else getattr(bakery, shop)
    with pytest.raises(APIError) as refused:
        await get_shop_for(getattr(bakery, who), target.id)
    assert refused.value.status == 404


async def test_names_are_found_within_their_tenant(bakery, kiosk):
    assert (await find_tenant_by_name("Kiosk")).id == kiosk.tenant.id
    assert await find_tenant_by_name("kiosk ") is None
    assert (await find_shop_by_name(bakery.tenant.id, "Bakery A")).id == bakery.shop_a.id
    assert await find_shop_by_name(kiosk.tenant.id, "Bakery A") is None


async def test_only_the_tenants_own_shop_ids_pass(bakery, kiosk):
    asked = [bakery.shop_a.id, kiosk.shop_a.id, 10_000]
    assert await shop_ids_in_tenant(bakery.tenant.id, asked) == {bakery.shop_a.id}


async def test_tenants_listed_by_name_and_unknown_ones_not_found(bakery, kiosk):
    assert [t.name for t in await list_tenants()] == ["Bakery", "Kiosk"]
    assert (await get_tenant(str(bakery.tenant.id))).name == "Bakery"
    for missing in (10_000, "x", None):
        with pytest.raises(APIError):
            await get_tenant(missing)
