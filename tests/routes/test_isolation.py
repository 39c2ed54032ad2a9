"""Who reaches what: every role against every endpoint, and tenants that never see each other."""

from __future__ import annotations

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models import audit
from sentra_tunnel.models.device import Device
from sentra_tunnel.models.tenant import Shop
from sentra_tunnel.models.user import User
from tests.support.api import ApiClient, error_code

NEW_PASSWORD = "a much longer secret 42"
ROLES = ("superadmin", "admin", "staff", "viewer", "anonymous")

# endpoint -> the status each role gets, in the order of ROLES
ACCESS = {
    ("get", "/api/tenants"): (200, 403, 403, 403, 401),
    ("post", "/api/tenants"): (201, 403, 403, 403, 401),
    ("get", "/api/shops"): (200, 200, 403, 403, 401),
    ("post", "/api/shops"): (201, 201, 403, 403, 401),
    ("get", "/api/users"): (200, 200, 403, 403, 401),
    ("post", "/api/users"): (201, 201, 403, 403, 401),
    ("get", "/api/users/{user}"): (200, 200, 403, 403, 401),
    ("patch", "/api/users/{user}"): (200, 200, 403, 403, 401),
    ("delete", "/api/users/{user}"): (204, 204, 403, 403, 401),
    ("get", "/api/audit"): (200, 200, 403, 403, 401),
    ("get", "/api/audit/export.csv"): (200, 200, 403, 403, 401),
}
CASES = [
    (method, path, role, statuses[index])
    for (method, path), statuses in ACCESS.items()
    for index, role in enumerate(ROLES)
]


def body_for(method: str, path: str, tenant_id: int) -> dict | None:
    if method == "post" and path == "/api/tenants":
        return {"name": "Florist"}
    if method == "post" and path == "/api/shops":
        return {"name": "New shop", "tenant_id": tenant_id}
    if method == "post" and path == "/api/users":
        return {
            "username": "fresh",
            "password": NEW_PASSWORD,
            "role": "viewer",
            "tenant_id": tenant_id,
        }
    if method == "patch":
        return {"role": "viewer"}
    return None


@pytest.fixture
async def client_for(app, login_as, superadmin, tenant):
    async def build(role: str) -> ApiClient:
        if role == "anonymous":
            return ApiClient(app.test_client())
        user = superadmin if role == "superadmin" else getattr(tenant, role)
        return await login_as(user)

    return build


@pytest.mark.parametrize(("method", "path", "role", "status"), CASES)
async def test_every_role_against_every_endpoint(client_for, tenant, method, path, role, status):
    client = await client_for(role)
    target = await User.acreate(
        username="target", password_hash="x", role="staff", tenant=tenant.id
    )
    kwargs = {}
    body = body_for(method, path, tenant.id)
    if body is not None:
        kwargs["json"] = body
    response = await getattr(client, method)(path.format(user=target.id), **kwargs)
    assert response.status_code == status, await response.get_data()
    if status == 401:
        assert await error_code(response) == "not_authenticated"
    elif status == 403:
        assert await error_code(response) == "forbidden"
    if status >= 400 and method != "get":
        assert await database.count(User.select().where(User.username == "fresh")) == 0
        assert (await User.aget_by_id(target.id)).role == "staff"


def test_the_table_covers_every_api_route(app):
    """A new /api route of this issue must be added to ACCESS (devices and commands are not)."""
    ours = ("/api/tenants", "/api/shops", "/api/users", "/api/audit")
    routes = {
        (method.lower(), rule.rule.replace("<int:user_id>", "{user}"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(ours)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(ACCESS)


@pytest.fixture
async def admin(login_as, tenant, other_tenant) -> ApiClient:
    """Bakery's admin, with a Kiosk tenant next door."""
    return await login_as(tenant.admin)


@pytest.mark.parametrize(
    ("method", "body"), [("get", None), ("patch", {"role": "viewer"}), ("delete", None)]
)
async def test_another_tenants_user_is_absent(admin, other_tenant, method, body):
    kwargs = {"json": body} if body else {}
    foreign = await getattr(admin, method)(f"/api/users/{other_tenant.staff.id}", **kwargs)
    missing = await getattr(admin, method)("/api/users/999999", **kwargs)
    assert foreign.status_code == 404
    assert await error_code(foreign) == "not_found"
    assert await foreign.get_json() == await missing.get_json()
    unchanged = await User.aget_by_id(other_tenant.staff.id)
    assert unchanged.role == "staff"


async def test_the_platform_operator_is_absent_for_a_tenant_admin(admin, superadmin):
    response = await admin.get(f"/api/users/{superadmin.id}")
    assert response.status_code == 404


async def test_audit_for_another_tenants_device_is_absent(admin, tenant, other_tenant):
    foreign = await Device.acreate(
        tenant=other_tenant.id, shop=other_tenant.shop_a, name="Kiosk door"
    )
    own = await Device.acreate(tenant=tenant.id, shop=tenant.shop_a, name="Bakery door")
    response = await admin.get(f"/api/audit?device_id={foreign.id}")
    assert response.status_code == 404
    assert await error_code(response) == "not_found"
    response = await admin.get(f"/api/audit/export.csv?device_id={foreign.id}")
    assert response.status_code == 404
    assert (await admin.get(f"/api/audit?device_id={own.id}")).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"tenant_id": "kiosk"},
        {"role": "superadmin"},
        {"role": "superadmin", "tenant_id": "kiosk"},
        {"role": "superadmin", "tenant_id": None},
    ],
)
async def test_a_tenant_admin_cannot_create_outside_the_tenant(admin, other_tenant, changes):
    body = {"username": "intruder", "password": NEW_PASSWORD, "role": "admin", **changes}
    if body.get("tenant_id") == "kiosk":
        body["tenant_id"] = other_tenant.id
    response = await admin.post("/api/users", json=body)
    assert response.status_code == 403
    assert await error_code(response) == "forbidden"
    assert await User.aget_or_none(User.username == "intruder") is None


async def test_a_tenant_admin_cannot_create_a_shop_elsewhere(admin, other_tenant):
    response = await admin.post(
        "/api/shops", json={"name": "Outpost", "tenant_id": other_tenant.id}
    )
    assert response.status_code == 403
    assert await error_code(response) == "forbidden"
    assert await Shop.aget_or_none(Shop.name == "Outpost") is None


async def test_another_tenants_shops_are_unknown_shop_ids(admin, other_tenant):
    body = {"username": "clerk", "password": NEW_PASSWORD, "role": "staff"}
    foreign = await admin.post("/api/users", json={**body, "shop_ids": [other_tenant.shop_a.id]})
    missing = await admin.post("/api/users", json={**body, "shop_ids": [999999]})
    assert foreign.status_code == missing.status_code == 422
    assert await User.aget_or_none(User.username == "clerk") is None
    patched = await admin.patch(
        f"/api/users/{(await User.aget(User.username == 'bakery-staff')).id}",
        json={"shop_ids": [other_tenant.shop_a.id]},
    )
    assert patched.status_code == 422


async def test_lists_hold_only_the_own_tenant(admin, tenant, other_tenant):
    await audit.record(
        "user.update", actor="kiosk-admin", target="user:1", tenant_id=other_tenant.id
    )
    await audit.record("user.update", actor="bakery-admin", target="user:1", tenant_id=tenant.id)
    shops = (await (await admin.get("/api/shops")).get_json())["shops"]
    assert {shop["tenant_id"] for shop in shops} == {tenant.id}
    assert len(shops) == 2
    users = (await (await admin.get("/api/users")).get_json())["users"]
    assert {user["tenant_id"] for user in users} == {tenant.id}
    entries = (await (await admin.get("/api/audit")).get_json())["entries"]
    assert entries and {entry["tenant_id"] for entry in entries} == {tenant.id}
    csv_text = (await (await admin.get("/api/audit/export.csv")).get_data()).decode()
    assert "kiosk-admin" not in csv_text and "bakery-admin" in csv_text


async def test_the_platform_operator_sees_every_tenant(superadmin_client, tenant, other_tenant):
    shops = (await (await superadmin_client.get("/api/shops")).get_json())["shops"]
    assert {shop["tenant_id"] for shop in shops} == {tenant.id, other_tenant.id}
    users = (await (await superadmin_client.get("/api/users")).get_json())["users"]
    assert {user["tenant_id"] for user in users} >= {tenant.id, other_tenant.id, None}
    response = await superadmin_client.get(f"/api/users/{other_tenant.staff.id}")
    assert response.status_code == 200
