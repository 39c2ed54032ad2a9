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


async def test_shops_are_scoped_to_tenant_and_shop_limits(tenant, other_tenant, superadmin):
    assert [s.name for s in await shops_visible_to(tenant.admin)] == ["Bakery A", "Bakery B"]
    assert [s.name for s in await shops_visible_to(tenant.staff)] == ["Bakery A"]
    everything = await shops_visible_to(superadmin)
    assert len(everything) == 4
    only_other = await shops_visible_to(superadmin, tenant_id=other_tenant.id)
    assert [s.name for s in only_other] == ["Kiosk A", "Kiosk B"]


@pytest.mark.parametrize("who, shop", [("staff", "shop_b"), ("admin", "other")])
async def test_a_shop_one_may_not_see_is_not_found(tenant, other_tenant, who, shop):
    target = other_tenant.shop_a if shop == "other" else getattr(tenant, shop)
    with pytest.raises(APIError) as refused:
        await get_shop_for(getattr(tenant, who), target.id)
    assert refused.value.status == 404


async def test_names_are_found_within_their_tenant(tenant, other_tenant):
    assert (await find_tenant_by_name("Kiosk")).id == other_tenant.id
    assert await find_tenant_by_name("kiosk ") is None
    assert (await find_shop_by_name(tenant.id, "Bakery A")).id == tenant.shop_a.id
    assert await find_shop_by_name(other_tenant.id, "Bakery A") is None


async def test_only_the_tenants_own_shop_ids_pass(tenant, other_tenant):
    asked = [tenant.shop_a.id, other_tenant.shop_a.id, 10_000]
    assert await shop_ids_in_tenant(tenant.id, asked) == {tenant.shop_a.id}


async def test_tenants_listed_by_name_and_unknown_ones_not_found(tenant, other_tenant):
    assert [t.name for t in await list_tenants()] == ["Bakery", "Kiosk"]
    assert (await get_tenant(str(tenant.id))).name == "Bakery"
    for missing in (10_000, "x", None):
        with pytest.raises(APIError):
            await get_tenant(missing)
