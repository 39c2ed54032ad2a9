"""The command path: visibility before role, params checked before anything is sent or audited,
and every tunnel failure mapped to the contract's error in one place."""

from __future__ import annotations

import asyncio

import pytest

from sentra_tunnel.errors import APIError
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.device import update_device
from sentra_tunnel.services.commands import api_error_for, run_command, validated_params
from sentra_tunnel.tunnel.hub import (
    CommandFailed,
    DeviceOffline,
    DeviceRejected,
    DeviceTimeout,
    HubBusy,
)
from tests.support.api import audit_rows
from tests.tunnel.fakes import STATE, WAIT_S, FakeDevice, provision

INVALID = [
    ("open", {"duration_s": 0}, "duration_s"),
    ("open", {"duration_s": 31}, "duration_s"),
    ("open", {"duration_s": "5"}, "duration_s"),
    ("open", {"seconds": 5}, "seconds"),
    ("status", {"verbose": True}, "verbose"),
    ("set_config", {"open_duration_s": 99}, "open_duration_s"),
    ("set_config", {"timezone": "Mars/Olympus"}, "timezone"),
    ("set_config", {"colour": "red"}, "colour"),
    ("set_config", {"schedule": [{"days": ["mon"], "from": "18:00", "to": "08:00"}]}, "schedule.0"),
    ("override", {}, "mode"),
    ("override", {"mode": "party"}, "mode"),
    ("override", {"mode": "open", "duration_s": 5, "until": "2099-01-01T00:00:00Z"}, "body"),
    ("override", {"mode": "open", "until": "2000-01-01T00:00:00Z"}, "body"),
    ("open", ["duration_s"], "body"),
]


@pytest.mark.parametrize("name, params, field", INVALID, ids=[f"{i[0]}-{i[2]}" for i in INVALID])
def test_invalid_params_name_the_field(name, params, field):
    with pytest.raises(APIError) as invalid:
        validated_params(name, params)
    assert (invalid.value.status, invalid.value.code) == (422, "validation_error")
    assert any(name.startswith(field) for name in invalid.value.fields)


def test_valid_params_go_out_as_the_device_reads_them():
    assert validated_params("open", {}) == {}
    assert validated_params("status", {}) == {}
    assert validated_params("override", {"mode": "open", "duration_s": 60}) == {
        "mode": "open",
        "duration_s": 60,
    }


@pytest.mark.parametrize(
    "failure, status, code",
    [
        (DeviceRejected("door_jammed", "stuck"), 502, "device_error"),
        (DeviceTimeout(), 504, "device_timeout"),
        (DeviceOffline(), 503, "device_offline"),
        (HubBusy("too many"), 503, "busy"),
        (CommandFailed("tunnel closed"), 502, "device_error"),
    ],
)
def test_every_tunnel_failure_has_one_error(failure, status, code):
    error = api_error_for(failure)
    assert (error.status, error.code) == (status, code)
    assert error.message


def test_a_refusal_carries_the_devices_own_error():
    error = api_error_for(DeviceRejected("door_jammed", "stuck"))
    assert error.extra == {"device_error": {"code": "door_jammed", "message": "stuck"}}
    assert api_error_for(HubBusy("too many")).headers["Retry-After"]


@pytest.fixture
async def door(admin_client, tenant) -> tuple[int, str]:
    """(id, api key) of a registered door in the Bakery's shop A."""
    return await provision(admin_client, tenant.shop_a.id)


async def _entries(name: str) -> list[AuditEntry]:
    query = AuditEntry.select().where(AuditEntry.action == f"command.{name}")
    return await audit_rows(query.order_by(AuditEntry.id))


async def _refused(acting_as, user, device_id, name, params) -> APIError:
    async with acting_as(user):
        with pytest.raises(APIError) as refused:
            await run_command(user, device_id, name, params)
    return refused.value


async def test_another_tenants_door_is_not_found_before_the_role_is_asked(
    app, acting_as, login_as, tenant, other_tenant
):
    other_id, other_key = await provision(
        await login_as(other_tenant.admin), other_tenant.shop_a.id
    )
    async with FakeDevice(app, other_key) as fake:
        await fake.hello()
        for user in (tenant.admin, tenant.viewer):
            error = await _refused(acting_as, user, other_id, "set_config", {"open_duration_s": 5})
            assert error.code == "not_found"
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)
    assert await _entries("set_config") == []


async def test_a_door_outside_a_staff_users_shops_is_not_found(acting_as, admin_client, tenant):
    in_b, _ = await provision(admin_client, tenant.shop_b.id, "B door")
    error = await _refused(acting_as, tenant.staff, in_b, "open", {})
    assert error.code == "not_found"


@pytest.mark.parametrize("name", ["open", "override", "set_config"])
async def test_a_viewer_is_refused_before_anything_is_sent_and_it_is_audited(
    app, acting_as, tenant, door, name
):
    async with FakeDevice(app, door[1]) as fake:
        await fake.hello()
        error = await _refused(acting_as, tenant.viewer, door[0], name, {})
        assert error.code == "forbidden"
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)
    [refused] = await _entries(name)
    assert (refused.actor, refused.outcome, refused.target) == (
        "bakery-viewer",
        "forbidden",
        f"device:{door[0]}",
    )
    assert refused.tenant_id == tenant.id


async def test_invalid_params_send_nothing_and_are_audited_with_the_fields(
    app, acting_as, tenant, door
):
    async with FakeDevice(app, door[1]) as fake:
        await fake.hello()
        error = await _refused(acting_as, tenant.admin, door[0], "open", {"duration_s": 0})
        assert error.code == "validation_error"
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)
    [refused] = await _entries("open")
    assert (refused.outcome, refused.details) == ("validation_error", {"fields": ["duration_s"]})


async def test_an_unknown_command_is_not_found(acting_as, tenant, door):
    error = await _refused(acting_as, tenant.admin, door[0], "self_destruct", {})
    assert (error.status, error.message) == (404, "No such command.")


async def test_an_offline_door_is_audited_as_requested_and_offline(acting_as, tenant, door):
    error = await _refused(acting_as, tenant.staff, door[0], "open", {})
    assert error.code == "device_offline"
    assert [entry.outcome for entry in await _entries("open")] == ["requested", "device_offline"]


async def test_an_answer_is_audited_with_the_same_command_id(app, acting_as, tenant, door):
    async with FakeDevice(app, door[1]) as fake:
        await fake.hello()
        async with acting_as(tenant.staff):
            request = asyncio.ensure_future(run_command(tenant.staff, door[0], "status", {}))
            command = await fake.receive()
            await fake.answer(command, STATE)
            assert await asyncio.wait_for(request, WAIT_S) == STATE
    requested, finished = await _entries("status")
    assert requested.details == {"command_id": command["id"], "params": {}}
    assert (finished.outcome, finished.details["command_id"]) == ("ok", command["id"])
    assert requested.tenant_id == finished.tenant_id == tenant.id


async def _answered_with(app, acting_as, user, door, name, params, result):
    """Run a command and answer it with `result` as the device; returns the APIError."""
    async with FakeDevice(app, door[1]) as fake:
        await fake.hello()
        async with acting_as(user):
            request = asyncio.ensure_future(run_command(user, door[0], name, params))
            await fake.answer(await fake.receive(), result)
            with pytest.raises(APIError) as failed:
                await asyncio.wait_for(request, WAIT_S)
    return failed.value


MALFORMED = [
    ("open", {}, {}, "opened"),
    ("open", {}, {"opened": "yes", "state": STATE}, "opened"),
    ("override", {"mode": "open"}, {**STATE, "override_until": "not-a-date"}, "override_until"),
    ("status", {}, {**STATE, "door": "ajar"}, "door"),
]


@pytest.mark.parametrize(
    "name, params, result, field", MALFORMED, ids=[f"{m[0]}-{m[3]}" for m in MALFORMED]
)
async def test_a_malformed_result_is_a_device_error_and_audited(
    app, acting_as, tenant, door, name, params, result, field
):
    error = await _answered_with(app, acting_as, tenant.staff, door, name, params, result)
    assert (error.status, error.code) == (502, "device_error")
    detail = error.extra["device_error"]
    assert detail["code"] == "invalid_result" and field in detail["message"]
    assert "malformed" in error.message
    requested, finished = await _entries(name)
    assert (requested.outcome, finished.outcome) == ("requested", "device_error")
    assert finished.details["device_error"] == detail


async def test_a_result_of_the_contracts_shape_comes_back_normalised(app, acting_as, tenant, door):
    overridden = {**STATE, "mode": "open", "override_until": "2099-01-01T00:00:00+00:00"}
    async with FakeDevice(app, door[1]) as fake:
        await fake.hello()
        async with acting_as(tenant.staff):
            request = asyncio.ensure_future(
                run_command(tenant.staff, door[0], "override", {"mode": "open"})
            )
            await fake.answer(await fake.receive(), overridden)
            result = await asyncio.wait_for(request, WAIT_S)
    assert result == {**overridden, "override_until": "2099-01-01T00:00:00Z"}


@pytest.mark.parametrize("current_key", ["0123456789abcdef", None], ids=["replaced", "revoked"])
async def test_a_command_reaches_only_a_tunnel_of_the_devices_current_key(
    app, acting_as, tenant, door, current_key
):
    async with FakeDevice(app, door[1]) as fake:
        await fake.hello()
        # The database moved on while this tunnel stayed up (its close lost, another node).
        await update_device(door[0], key_id=current_key)
        error = await _refused(acting_as, tenant.staff, door[0], "open", {})
        assert error.code == "device_offline"
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)
    assert [entry.outcome for entry in await _entries("open")] == ["requested", "device_offline"]
