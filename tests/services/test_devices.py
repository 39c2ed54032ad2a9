"""The device lifecycle: tokens spent once, keys that die at once, tunnels closed behind them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from quart.testing import WebsocketResponseError
from quart.testing.connections import WebsocketDisconnectError

from sentra_tunnel.db import DatabaseBusy, database
from sentra_tunnel.errors import APIError
from sentra_tunnel.models import audit
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.base import utcnow
from sentra_tunnel.models.device import Device, get_device, update_device
from sentra_tunnel.services import devices as devices_service
from sentra_tunnel.services.devices import (
    authenticate_key,
    create_device,
    delete_device,
    register_device,
    reprovision_device,
    revoke_device,
)
from sentra_tunnel.tunnel import http as tunnel_http
from sentra_tunnel.tunnel.broker import device_deleted_event
from sentra_tunnel.wire import hello
from tests.support.api import audit_rows
from tests.tunnel.fakes import STATE, WAIT_S, FakeDevice

IP = "192.0.2.1"


async def _actions(device_id) -> list[tuple[str, str]]:
    query = AuditEntry.select().where(AuditEntry.target == f"device:{device_id}")
    return [(e.actor, e.action) for e in await database.list(query.order_by(AuditEntry.id))]


@pytest.fixture
async def created(acting_as, tenant):
    """(device, registration token) of a new device in the Bakery's shop A."""
    async with acting_as(tenant.admin):
        device, token, _ = await create_device(tenant.admin, "Back door", tenant.shop_a.id)
    return device, token


async def _register(acting_as, token: str, hostname: str | None = None):
    async with acting_as():
        return await register_device(token, hostname, "1.0.0", IP)


@pytest.fixture
async def registered(acting_as, created):
    """(device, api key) of a registered device in the Bakery's shop A."""
    return await _register(acting_as, created[1])


async def test_create_audits_and_keeps_only_the_token_hash(created):
    device, token = created
    row = await Device.aget(Device.id == device.id)
    assert token.startswith("reg_") and token not in str(row.__data__)
    assert await _actions(device.id) == [("bakery-admin", "device.create")]


async def test_create_in_another_tenants_shop_is_not_found(acting_as, tenant, other_tenant):
    async with acting_as(tenant.admin):
        with pytest.raises(APIError) as refused:
            await create_device(tenant.admin, "Back door", other_tenant.shop_a.id)
    assert (refused.value.status, refused.value.code) == (404, "not_found")
    assert await database.count(Device.select()) == 0


async def test_the_platform_operator_creates_in_any_tenant(acting_as, superadmin, other_tenant):
    async with acting_as(superadmin):
        device, _, _ = await create_device(superadmin, "Back door", other_tenant.shop_b.id)
    assert device.tenant_id == other_tenant.id


async def test_a_token_is_spent_once(acting_as, created):
    device, api_key = await _register(acting_as, created[1], "pi-1")
    assert (device.registered, device.hostname) == (True, "pi-1")
    assert await authenticate_key(api_key) is not None
    with pytest.raises(APIError) as again:
        await _register(acting_as, created[1])
    assert (again.value.status, again.value.code) == (401, "invalid_token")
    actor, action = (await _actions(device.id))[-1]
    assert (actor, action) == (f"device:{device.id}", "device.register")


async def test_concurrent_registrations_with_one_token_yield_one_key(acting_as, created):
    attempts = [_register(acting_as, created[1]) for _ in range(5)]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    assert sum(not isinstance(outcome, Exception) for outcome in outcomes) == 1
    assert {outcome.code for outcome in outcomes if isinstance(outcome, APIError)} == {
        "invalid_token"
    }


@pytest.mark.parametrize("token", ["reg_unknown", "nonsense", "x" * 200])
async def test_an_unknown_token_is_refused(acting_as, token):
    with pytest.raises(APIError) as refused:
        await _register(acting_as, token)
    assert refused.value.code == "invalid_token"


async def test_an_expired_token_is_refused(acting_as, created):
    expired = utcnow() - timedelta(seconds=1)
    query = Device.update(registration_expires_at=expired).where(Device.id == created[0].id)
    await database.run(query.execute)
    with pytest.raises(APIError) as refused:
        await _register(acting_as, created[1])
    assert refused.value.code == "invalid_token"


@pytest.mark.parametrize("mangle", [str.upper, lambda key: key + "x", lambda key: "." + key])
async def test_only_the_exact_key_authenticates(registered, mangle):
    device, api_key = registered
    assert (await authenticate_key(api_key)).id == device.id
    assert await authenticate_key(mangle(api_key)) is None


async def test_reprovision_kills_the_key_and_closes_the_tunnel(app, acting_as, tenant, registered):
    device, api_key = registered
    async with FakeDevice(app, api_key) as fake:
        await fake.hello()
        async with acting_as(tenant.admin):
            token, expires_at = await reprovision_device(tenant.admin, device)
        assert await fake.wait_closed(timeout=1) == 4001
    assert expires_at > utcnow()
    assert await authenticate_key(api_key) is None
    _, new_key = await _register(acting_as, token)
    assert new_key != api_key
    assert ("bakery-admin", "device.reprovision") in await _actions(device.id)


async def test_revoke_kills_the_key_and_the_unused_token(acting_as, tenant, created):
    device, token = created
    async with acting_as(tenant.admin):
        await revoke_device(tenant.admin, device)
    with pytest.raises(APIError):
        await _register(acting_as, token)
    row = await get_device(device.id)
    assert (row.key_hash, row.registered, row.registration_token_hash) == (None, False, None)
    assert ("bakery-admin", "device.revoke") in await _actions(device.id)


async def test_delete_closes_the_tunnel_and_publishes(app, acting_as, tenant, registered):
    device, api_key = registered
    broker = app.extensions["broker"]
    async with broker.subscribe(lambda event: event["type"] == "device_deleted") as events:
        async with FakeDevice(app, api_key) as fake:
            await fake.hello()
            async with acting_as(tenant.admin):
                await delete_device(tenant.admin, device)
            assert await fake.wait_closed(timeout=1) == 4001
        event = await asyncio.wait_for(events.next(), WAIT_S)
    assert event == device_deleted_event(device)
    assert await get_device(device.id) is None
    assert ("bakery-admin", "device.delete") in await _actions(device.id)


@pytest.mark.parametrize("manage", [reprovision_device, revoke_device, delete_device])
async def test_staff_and_viewers_may_not_manage_a_device(acting_as, tenant, created, manage):
    for user in (tenant.staff, tenant.viewer):
        async with acting_as(user):
            with pytest.raises(APIError) as refused:
                await manage(user, created[0])
        assert refused.value.code == "forbidden"
    assert await get_device(created[0].id) is not None


CUTTING_OFF = {revoke_device: "revoke", reprovision_device: "reprovision", delete_device: "delete"}


async def _refused_at_the_door(app, api_key) -> int:
    """The status a new upgrade with this key gets (401: refused before any tunnel)."""
    async with FakeDevice(app, api_key) as again:
        with pytest.raises(WebsocketResponseError) as rejected:
            await again.hello()
    return rejected.value.response.status_code


@pytest.mark.parametrize("manage", list(CUTTING_OFF), ids=list(CUTTING_OFF.values()))
async def test_a_failing_audit_write_still_leaves_the_device_cut_off(
    app, acting_as, admin_client, tenant, registered, monkeypatch, manage
):
    device, api_key = registered
    failing_action, original = f"device.{CUTTING_OFF[manage]}", audit.record

    async def failing(action, **fields):
        if action == failing_action:
            raise DatabaseBusy("database is locked")
        return await original(action, **fields)

    monkeypatch.setattr(audit, "record", failing)
    async with FakeDevice(app, api_key) as fake:
        await fake.hello()
        async with acting_as(tenant.admin):
            with pytest.raises(DatabaseBusy):
                await manage(tenant.admin, device)
        assert await fake.wait_closed(timeout=1) == 4001
    assert await authenticate_key(api_key) is None
    assert await _refused_at_the_door(app, api_key) == 401
    opened = await admin_client.post(f"/api/commands/{device.id}/open", json={})
    expected = (404, "not_found") if manage is delete_device else (503, "device_offline")
    assert (opened.status_code, (await opened.get_json())["error"]["code"]) == expected


@pytest.fixture
def slow_key_kill(monkeypatch):
    """Hold the database write that kills a key until `released` is set; `reached` says it
    has begun."""
    reached, released = asyncio.Event(), asyncio.Event()

    async def held(device_id, **fields):
        reached.set()
        await released.wait()
        await update_device(device_id, **fields)

    monkeypatch.setattr(devices_service, "update_device", held)
    return reached, released


async def test_no_handshake_with_the_old_key_gets_in_while_the_key_dies(
    app, acting_as, tenant, registered, slow_key_kill, monkeypatch
):
    device, api_key = registered
    reached, released = slow_key_kill
    key_checked, check = asyncio.Event(), tunnel_http.authenticate_key

    async def checking(key):
        found = await check(key)
        key_checked.set()
        return found

    monkeypatch.setattr(tunnel_http, "authenticate_key", checking)
    # `checked` has passed the key check and not yet said hello when the revocation begins.
    async with FakeDevice(app, api_key) as checked, acting_as(tenant.admin):
        await asyncio.wait_for(key_checked.wait(), WAIT_S)
        revoking = asyncio.ensure_future(revoke_device(tenant.admin, device))
        await asyncio.wait_for(reached.wait(), WAIT_S)
        # The database still holds the key, yet the hub refuses it already.
        assert await _refused_at_the_door(app, api_key) == 401
        await checked.send(hello(checked.agent_version, STATE))
        with pytest.raises(WebsocketDisconnectError) as closed:
            await checked.receive()  # a welcome here would be the bug
        assert closed.value.args[0] == 4001
        released.set()
        await asyncio.wait_for(revoking, WAIT_S)
    assert await authenticate_key(api_key) is None
    assert not (await get_device(device.id)).online


async def test_failed_registrations_are_audited_with_the_address_and_never_the_token(
    acting_as, tenant, created
):
    device, token = created
    await _register(acting_as, token)
    for attempt in (token, "reg_never-issued", "nonsense"):  # spent, unknown, not a token
        with pytest.raises(APIError):
            await _register(acting_as, attempt)
    query = AuditEntry.select().where(AuditEntry.action == "device.register_failed")
    failed = await audit_rows(query.order_by(AuditEntry.id))
    assert [(e.outcome, e.ip, e.details["reason"]) for e in failed] == [
        ("invalid_token", IP, "unknown")
    ] * 3
    assert all(e.actor == "anonymous" for e in failed)
    stored = " ".join(str(entry.__data__) for entry in failed)
    assert "reg_" not in stored and "nonsense" not in stored


async def test_an_expired_token_is_audited_in_the_devices_tenant(acting_as, tenant, created):
    device, token = created
    expired = utcnow() - timedelta(seconds=1)
    await update_device(device.id, registration_expires_at=expired)
    with pytest.raises(APIError):
        await _register(acting_as, token)
    query = AuditEntry.select().where(AuditEntry.action == "device.register_failed")
    [entry] = await audit_rows(query)
    assert (entry.target, entry.tenant_id, entry.details) == (
        f"device:{device.id}",
        tenant.id,
        {"reason": "expired"},
    )
