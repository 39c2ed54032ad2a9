"""Tenants: unique names, created by the platform operator; the tenant every new record gets."""

from __future__ import annotations

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.errors import APIError
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.services.tenants import create_tenant, tenant_for_new_record


async def test_a_tenant_admin_creates_in_the_own_tenant(tenant, other_tenant):
    for asked in (None, tenant.id):
        assert (await tenant_for_new_record(tenant.admin, asked)).id == tenant.id
    with pytest.raises(APIError) as refused:
        await tenant_for_new_record(tenant.admin, other_tenant.id)
    assert refused.value.code == "forbidden"


async def test_the_platform_operator_names_an_existing_tenant(superadmin, other_tenant):
    assert (await tenant_for_new_record(superadmin, other_tenant.id)).id == other_tenant.id
    with pytest.raises(APIError) as unnamed:
        await tenant_for_new_record(superadmin, None)
    assert (unnamed.value.code, list(unnamed.value.fields)) == ("validation_error", ["tenant_id"])
    with pytest.raises(APIError) as unknown:
        await tenant_for_new_record(superadmin, 999999)
    assert unknown.value.code == "not_found"


async def test_create_cleans_the_name_and_audits_in_the_new_tenant(acting_as, superadmin):
    async with acting_as(superadmin):
        tenant = await create_tenant(superadmin, "  Florist  ")
    assert tenant.name == "Florist"
    entry = await database.get(AuditEntry.select().where(AuditEntry.action == "tenant.create"))
    assert (entry.actor, entry.target, entry.tenant_id) == (
        "operator",
        f"tenant:{tenant.id}",
        tenant.id,
    )


@pytest.mark.parametrize("name, code", [("Bakery", "conflict"), ("Tab\there", "validation_error")])
async def test_a_taken_or_bad_name_is_refused(acting_as, superadmin, tenant, name, code):
    async with acting_as(superadmin):
        with pytest.raises(APIError) as refused:
            await create_tenant(superadmin, name)
    assert (refused.value.code, list(refused.value.fields)) == (code, ["name"])


async def test_only_the_platform_operator_creates_tenants(acting_as, tenant):
    async with acting_as(tenant.admin):
        with pytest.raises(APIError) as refused:
            await create_tenant(tenant.admin, "Florist")
    assert refused.value.code == "forbidden"
