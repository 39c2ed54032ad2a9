"""Shops: created by a tenant's admins, unique by name within the tenant."""

from __future__ import annotations

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.errors import APIError
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.tenant import Shop
from sentra_tunnel.services.shops import create_shop


async def test_create_audits_in_the_shops_tenant(acting_as, superadmin, other_tenant):
    async with acting_as(superadmin):
        shop = await create_shop(superadmin, " Station ", other_tenant.id)
    assert (shop.name, shop.tenant_id) == ("Station", other_tenant.id)
    entry = await database.get(AuditEntry.select().where(AuditEntry.action == "shop.create"))
    assert (entry.actor, entry.tenant_id, entry.details) == (
        "operator",
        other_tenant.id,
        {"name": "Station"},
    )


async def test_a_name_is_taken_only_within_its_tenant(acting_as, tenant, superadmin, other_tenant):
    async with acting_as(tenant.admin):
        with pytest.raises(APIError) as taken:
            await create_shop(tenant.admin, "Bakery A", None)
    assert (taken.value.status, taken.value.code, taken.value.fields) == (
        409,
        "conflict",
        {"name": "is taken"},
    )
    async with acting_as(superadmin):
        await create_shop(superadmin, "Bakery A", other_tenant.id)
    assert await database.count(Shop.select().where(Shop.name == "Bakery A")) == 2


@pytest.mark.parametrize("who", ["admin", "staff"])
async def test_no_shop_outside_the_own_tenant_or_role(acting_as, tenant, other_tenant, who):
    actor = getattr(tenant, who)
    async with acting_as(actor):
        with pytest.raises(APIError) as refused:
            await create_shop(actor, "Station", other_tenant.id)
    assert refused.value.code == "forbidden"
    assert await database.count(Shop.select().where(Shop.name == "Station")) == 0
