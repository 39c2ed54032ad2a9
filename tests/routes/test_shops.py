"""Shops of a tenant: its admins and the platform operator create and list them."""

from __future__ import annotations

from sentra_tunnel.db import database
from sentra_tunnel.models.audit import AuditEntry
from tests.support.api import error_code


async def test_an_admin_lists_the_tenants_shops(admin_client, tenant):
    response = await admin_client.get("/api/shops")
    assert response.status_code == 200
    assert (await response.get_json())["shops"] == [
        {"id": tenant.shop_a.id, "name": "Bakery A", "tenant_id": tenant.id},
        {"id": tenant.shop_b.id, "name": "Bakery B", "tenant_id": tenant.id},
    ]


async def test_an_admin_creates_a_shop_in_the_own_tenant(admin_client, tenant):
    for body in ({"name": "Station"}, {"name": "Market", "tenant_id": tenant.id}):
        response = await admin_client.post("/api/shops", json=body)
        assert response.status_code == 201
        shop = (await response.get_json())["shop"]
        assert (shop["name"], shop["tenant_id"]) == (body["name"], tenant.id)
    entries = await database.list(
        AuditEntry.select().where(AuditEntry.action == "shop.create").order_by(AuditEntry.id)
    )
    assert [entry.details["name"] for entry in entries] == ["Station", "Market"]
    assert {entry.tenant_id for entry in entries} == {tenant.id}
    assert {entry.actor for entry in entries} == {"bakery-admin"}


async def test_the_platform_operator_names_the_tenant(superadmin_client, other_tenant):
    response = await superadmin_client.post("/api/shops", json={"name": "Station"})
    assert response.status_code == 422
    assert "tenant_id" in (await response.get_json())["error"]["fields"]
    response = await superadmin_client.post(
        "/api/shops", json={"name": "Station", "tenant_id": 999999}
    )
    assert response.status_code == 404
    assert await error_code(response) == "not_found"
    response = await superadmin_client.post(
        "/api/shops", json={"name": "Station", "tenant_id": other_tenant.id}
    )
    assert response.status_code == 201
    assert (await response.get_json())["shop"]["tenant_id"] == other_tenant.id
