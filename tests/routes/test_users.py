"""Users of a tenant: create, change, reset, disable and delete."""

from __future__ import annotations

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.user import Session, User
from tests.support.api import PASSWORD, ApiClient, error_code

NEW_PASSWORD = "a much longer secret 42"


async def last_audit() -> AuditEntry:
    return await database.get(AuditEntry.select().order_by(AuditEntry.id.desc()))


async def test_create_a_user_in_the_own_tenant(admin_client, tenant):
    response = await admin_client.post(
        "/api/users",
        json={
            "username": "clerk",
            "password": NEW_PASSWORD,
            "role": "staff",
            "shop_ids": [tenant.shop_b.id, tenant.shop_a.id],
        },
    )
    assert response.status_code == 201
    user = (await response.get_json())["user"]
    assert user["username"] == "clerk"
    assert user["role"] == "staff"
    assert user["tenant_id"] == tenant.id
    assert user["shop_ids"] == sorted([tenant.shop_a.id, tenant.shop_b.id])
    assert user["must_change_password"] is True
    entry = await last_audit()
    assert (entry.action, entry.target, entry.actor) == (
        "user.create",
        f"user:{user['id']}",
        "bakery-admin",
    )
    assert entry.tenant_id == tenant.id
    assert NEW_PASSWORD not in str(entry.details)
    shown = await admin_client.get(f"/api/users/{user['id']}")
    assert (await shown.get_json())["user"] == user


async def test_the_platform_operator_names_the_tenant(superadmin_client, tenant):
    body = {"username": "clerk", "password": NEW_PASSWORD, "role": "viewer"}
    response = await superadmin_client.post("/api/users", json=body)
    assert response.status_code == 422
    assert "tenant_id" in (await response.get_json())["error"]["fields"]
    response = await superadmin_client.post("/api/users", json={**body, "tenant_id": tenant.id})
    assert response.status_code == 201
    response = await superadmin_client.post(
        "/api/users", json={**body, "username": "clerk2", "tenant_id": 999999}
    )
    assert response.status_code == 404


async def test_the_platform_operator_creates_another_operator(superadmin_client):
    response = await superadmin_client.post(
        "/api/users", json={"username": "ops2", "password": NEW_PASSWORD, "role": "superadmin"}
    )
    assert response.status_code == 201
    assert (await response.get_json())["user"]["tenant_id"] is None


async def test_duplicate_username_is_409(admin_client):
    body = {"username": "bakery-staff", "password": NEW_PASSWORD, "role": "viewer"}
    response = await admin_client.post("/api/users", json=body)
    assert response.status_code == 409
    assert await error_code(response) == "conflict"


async def test_weak_initial_password_is_422(admin_client):
    response = await admin_client.post(
        "/api/users", json={"username": "clerk", "password": "short", "role": "viewer"}
    )
    assert response.status_code == 422
    assert await error_code(response) == "weak_password"


async def test_patch_role_and_shops(admin_client, tenant):
    response = await admin_client.patch(
        f"/api/users/{tenant.viewer.id}", json={"role": "staff", "shop_ids": [tenant.shop_b.id]}
    )
    assert response.status_code == 200
    user = (await response.get_json())["user"]
    assert (user["role"], user["shop_ids"]) == ("staff", [tenant.shop_b.id])
    entry = await last_audit()
    assert entry.action == "user.update"
    assert entry.details == {"role": "staff", "shop_ids": [tenant.shop_b.id]}


async def test_password_reset_forces_a_change_and_ends_sessions(admin_client, staff_client, tenant):
    response = await admin_client.patch(
        f"/api/users/{tenant.staff.id}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert (await response.get_json())["user"]["must_change_password"] is True
    assert (await staff_client.get("/auth/me")).status_code == 401
    assert (await staff_client.login("bakery-staff", PASSWORD)).status_code == 401
    assert (await staff_client.login("bakery-staff", NEW_PASSWORD)).status_code == 200
    assert await error_code(await staff_client.get("/api/users")) == "password_change_required"
    entry = await database.get(
        AuditEntry.select().where(AuditEntry.action == "user.update").order_by(AuditEntry.id)
    )
    assert entry.details == {"password_reset": True}


async def test_disable_ends_sessions_and_blocks_login(admin_client, staff_client, app, tenant):
    response = await admin_client.patch(f"/api/users/{tenant.staff.id}", json={"disabled": True})
    assert response.status_code == 200
    assert (await response.get_json())["user"]["disabled"] is True
    assert (await staff_client.get("/auth/me")).status_code == 401
    login = await ApiClient(app.test_client()).login("bakery-staff")
    assert login.status_code == 401
    assert await error_code(login) == "invalid_credentials"
    await admin_client.patch(f"/api/users/{tenant.staff.id}", json={"disabled": False})
    assert (await ApiClient(app.test_client()).login("bakery-staff")).status_code == 200


async def test_delete_a_user(admin_client, staff_client, tenant):
    response = await admin_client.delete(f"/api/users/{tenant.staff.id}")
    assert response.status_code == 204
    assert (await admin_client.get(f"/api/users/{tenant.staff.id}")).status_code == 404
    assert (await admin_client.delete(f"/api/users/{tenant.staff.id}")).status_code == 404
    assert (await staff_client.get("/auth/me")).status_code == 401
    assert await database.count(Session.select().where(Session.user == tenant.staff.id)) == 0
    entry = await last_audit()
    assert (entry.action, entry.target) == ("user.delete", f"user:{tenant.staff.id}")


@pytest.mark.parametrize(
    ("method", "body"),
    [("delete", None), ("patch", {"disabled": True}), ("patch", {"role": "viewer"})],
)
async def test_nobody_removes_or_demotes_themselves(admin_client, tenant, method, body):
    kwargs = {"json": body} if body else {}
    response = await getattr(admin_client, method)(f"/api/users/{tenant.admin.id}", **kwargs)
    assert 400 <= response.status_code < 500
    await error_code(response)
    me = await User.aget_by_id(tenant.admin.id)
    assert (me.role, me.disabled) == ("admin", False)
    assert (await admin_client.get("/auth/me")).status_code == 200


@pytest.mark.parametrize("who", ["admin", "operator"])
async def test_your_own_password_changes_only_with_the_current_one(
    login_as, superadmin, tenant, who
):
    """PATCH would skip the current password; /auth/password is the one way for yourself."""
    client = await login_as(tenant.admin if who == "admin" else superadmin)
    me = (await (await client.get("/auth/me")).get_json())["user"]
    response = await client.patch(f"/api/users/{me['id']}", json={"password": NEW_PASSWORD})
    assert response.status_code == 422
    body = (await response.get_json())["error"]
    assert body["code"] == "validation_error"
    assert "/auth/password" in body["fields"]["password"]
    assert (await ApiClient(client.client).login(me["username"], NEW_PASSWORD)).status_code == 401
    assert (await client.get("/auth/me")).status_code == 200  # nothing changed, still logged in
    assert await database.count(AuditEntry.select().where(AuditEntry.action == "user.update")) == 0


async def test_an_admin_still_resets_another_admins_password(admin_client, tenant):
    other = await User.acreate(
        username="second-admin", password_hash="x", role="admin", tenant=tenant.id
    )
    response = await admin_client.patch(f"/api/users/{other.id}", json={"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert (await response.get_json())["user"]["must_change_password"] is True
