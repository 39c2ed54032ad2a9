"""Device routes: what each answers, to whom; the lifecycle itself is tested in services/."""

from __future__ import annotations

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.device import Device
from sentra_tunnel.security import token_hash
from tests.support.api import error_code
from tests.tunnel.fakes import FakeDevice, provision

DEVICE_KEYS = {
    "id",
    "name",
    "tenant_id",
    "shop_id",
    "registered",
    "online",
    "last_seen",
    "agent_version",
    "state",
}


async def _create(api, shop_id, name="Back door"):
    return await api.post("/api/devices/create", json={"name": name, "shop_id": shop_id})


async def _register(client, token, **extra):
    return await client.post("/api/devices/register", json={"token": token, **extra})


async def _actions(device_id) -> list[tuple[str, str]]:
    query = AuditEntry.select().where(AuditEntry.target == f"device:{device_id}")
    return [(e.actor, e.action) for e in await database.list(query.order_by(AuditEntry.id))]


async def test_create_gives_a_one_time_token_stored_only_as_hash(admin_client, tenant):
    response = await _create(admin_client, tenant.shop_a.id)
    assert response.status_code == 201
    body = await response.get_json()
    assert set(body["device"]) == DEVICE_KEYS
    assert body["device"]["registered"] is False and body["device"]["online"] is False
    assert body["registration_token"].startswith("reg_")
    assert body["expires_at"].endswith("Z")
    row = await Device.aget(Device.id == body["device"]["id"])
    assert row.registration_token_hash == token_hash(body["registration_token"])
    assert body["registration_token"] not in str(row.__data__)
    assert await _actions(row.id) == [("bakery-admin", "device.create")]


async def test_register_returns_a_strong_key_stored_only_as_hash(admin_client, client, tenant):
    token = (await (await _create(admin_client, tenant.shop_a.id)).get_json())["registration_token"]
    response = await _register(client, token, hostname="pi-1", agent_version="1.0.0")
    assert response.status_code == 201
    body = await response.get_json()
    assert body["ws_url"] == "ws://localhost/ws"
    key_id, _, secret = body["api_key"].partition(".")
    assert len(secret) >= 43  # 32 bytes, base64url
    row = await Device.aget(Device.id == body["device_id"])
    assert (row.key_id, row.key_hash) == (key_id, token_hash(secret))
    assert (row.registered, row.hostname, row.agent_version) == (True, "pi-1", "1.0.0")
    actor, action = (await _actions(row.id))[-1]
    assert (actor, action) == (f"device:{row.id}", "device.register")


async def test_register_behind_https_proxy_gives_wss(app, admin_client, tenant):
    app.config["SETTINGS"] = app.config["SETTINGS"].with_overrides(forwarded_allow_ips=("*",))
    token = (await (await _create(admin_client, tenant.shop_a.id)).get_json())["registration_token"]
    response = await app.test_client().post(
        "/api/devices/register",
        json={"token": token},
        headers={"X-Forwarded-Proto": "https", "Host": "doors.example.com"},
    )
    assert (await response.get_json())["ws_url"] == "wss://doors.example.com/ws"


async def test_register_is_rate_limited_per_ip(client):
    codes = [(await _register(client, f"reg_guess{n}")).status_code for n in range(11)]
    assert codes == [401] * 10 + [429]


async def test_register_rejects_unknown_fields(client):
    response = await _register(client, "reg_x", surprise=True)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [{"name": "", "shop_id": 1}, {"name": "x" * 101, "shop_id": 1}, {"name": "A"}, {}],
)
async def test_create_validates(admin_client, tenant, body):
    response = await admin_client.post("/api/devices/create", json=body)
    assert response.status_code == 422
    assert await error_code(response) == "validation_error"


async def test_list_and_status_respect_tenant_and_shops(
    admin_client, login_as, tenant, other_tenant
):
    in_a, _ = await provision(admin_client, tenant.shop_a.id, "A door")
    in_b, _ = await provision(admin_client, tenant.shop_b.id, "B door")
    other_admin = await login_as(other_tenant.admin)
    other, _ = await provision(other_admin, other_tenant.shop_a.id, "Kiosk door")
    listed = await (await admin_client.get("/api/devices")).get_json()
    assert {d["id"] for d in listed["devices"]} == {in_a, in_b}
    viewer = await login_as(tenant.viewer)  # limited to shop A
    listed = await (await viewer.get("/api/devices")).get_json()
    assert [d["id"] for d in listed["devices"]] == [in_a]
    status = await viewer.get(f"/api/devices/{in_a}/status")
    assert set((await status.get_json())["device"]) == DEVICE_KEYS
    assert (await viewer.get(f"/api/devices/{in_b}/status")).status_code == 404
    assert (await admin_client.get(f"/api/devices/{other}/status")).status_code == 404


async def test_reprovision_revoke_and_delete_answer_as_documented(admin_client, client, tenant):
    device_id, _ = await provision(admin_client, tenant.shop_a.id)
    response = await admin_client.post(f"/api/devices/{device_id}/reprovision")
    assert response.status_code == 201
    body = await response.get_json()
    assert set(body) == {"registration_token", "expires_at"}
    assert (await _register(client, body["registration_token"])).status_code == 201
    assert (await admin_client.post(f"/api/devices/{device_id}/revoke")).status_code == 204
    assert (await admin_client.delete(f"/api/devices/{device_id}")).status_code == 204
    assert (await admin_client.get(f"/api/devices/{device_id}/status")).status_code == 404
    assert [action for _, action in await _actions(device_id)][-3:] == [
        "device.register",
        "device.revoke",
        "device.delete",
    ]


MANAGE = [
    ("post", "/api/devices/{id}/reprovision"),
    ("post", "/api/devices/{id}/revoke"),
    ("delete", "/api/devices/{id}"),
]


@pytest.mark.parametrize("method, path", MANAGE)
async def test_staff_and_viewer_cannot_manage_a_visible_device(
    admin_client, login_as, tenant, method, path
):
    device_id, _ = await provision(admin_client, tenant.shop_a.id)
    for user in (tenant.staff, tenant.viewer):
        api = await login_as(user)
        response = await getattr(api, method)(path.format(id=device_id))
        assert response.status_code == 403, user.username
    assert (
        await api.post("/api/devices/create", json={"name": "x", "shop_id": 1})
    ).status_code == 403


@pytest.mark.parametrize(
    "method, path", [*MANAGE, ("get", "/api/devices/{id}/status")], ids=lambda v: str(v)
)
async def test_another_tenants_device_is_404_and_untouched(
    app, admin_client, login_as, other_tenant, method, path
):
    other_admin = await login_as(other_tenant.admin)
    device_id, api_key = await provision(other_admin, other_tenant.shop_a.id)
    async with FakeDevice(app, api_key) as fake:
        await fake.hello()
        response = await getattr(admin_client, method)(path.format(id=device_id))
        assert response.status_code == 404
        assert await error_code(response) == "not_found"
        row = await Device.aget(Device.id == device_id)
        assert (row.registered, row.online, row.key_hash is not None) == (True, True, True)


async def test_unauthenticated_device_calls_are_401(client):
    for method, path in [*MANAGE, ("get", "/api/devices"), ("get", "/api/devices/1/status")]:
        response = await getattr(client, method)(path.format(id=1))
        assert response.status_code == 401, path
