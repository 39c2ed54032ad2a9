"""Tenants: the platform operator lists and creates them."""

from __future__ import annotations

from sentra_tunnel.db import database
from sentra_tunnel.models.audit import AuditEntry


async def test_list_tenants_by_name(superadmin_client, other_tenant, tenant):
    response = await superadmin_client.get("/api/tenants")
    assert response.status_code == 200
    assert (await response.get_json())["tenants"] == [
        {"id": tenant.id, "name": "Bakery"},
        {"id": other_tenant.id, "name": "Kiosk"},
    ]


async def test_create_a_tenant(superadmin_client):
    response = await superadmin_client.post("/api/tenants", json={"name": "  Florist  "})
    assert response.status_code == 201
    tenant = (await response.get_json())["tenant"]
    assert tenant["name"] == "Florist"
    listed = (await (await superadmin_client.get("/api/tenants")).get_json())["tenants"]
    assert listed == [tenant]
    entry = await database.get(AuditEntry.select().where(AuditEntry.action == "tenant.create"))
    assert (entry.actor, entry.target, entry.tenant_id, entry.outcome) == (
        "operator",
        f"tenant:{tenant['id']}",
        tenant["id"],
        "ok",
    )


async def test_tenant_name_is_limited(superadmin_client):
    response = await superadmin_client.post("/api/tenants", json={"name": "x" * 101})
    assert response.status_code == 422
    assert "name" in (await response.get_json())["error"]["fields"]
