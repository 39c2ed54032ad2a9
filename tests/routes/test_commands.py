"""Door commands over the API, answered by a scripted device on the test websocket."""

from __future__ import annotations

import asyncio
import time

import pytest

from sentra_tunnel.models.audit import AuditEntry
from tests.support.api import audit_rows, error_code
from tests.tunnel.fakes import CONFIG, STATE, WAIT_S, FakeDevice, provision

OPENED = {"opened": True, "state": STATE}
# (method, path suffix, body, device command, sent params, a result of the contract's shape)
COMMANDS = [
    ("post", "open", {"duration_s": 3}, "open", {"duration_s": 3}, OPENED),
    ("post", "open", None, "open", {}, {"opened": False, "state": STATE}),
    ("post", "status", None, "status", {}, STATE),
    ("get", "config", None, "get_config", {}, CONFIG),
    ("post", "config", {"open_duration_s": 7}, "set_config", {"open_duration_s": 7}, CONFIG),
    (
        "post",
        "config",
        {"schedule": [{"days": ["mon"], "from": "08:00", "to": "18:00"}]},
        "set_config",
        {"schedule": [{"days": ["mon"], "from": "08:00", "to": "18:00"}]},
        CONFIG,
    ),
    ("post", "override", {"mode": "open"}, "override", {"mode": "open"}, STATE),
    (
        "post",
        "override",
        {"mode": "locked", "duration_s": 60},
        "override",
        {"mode": "locked", "duration_s": 60},
        STATE,
    ),
]


@pytest.fixture
async def device(admin_client, tenant):
    return await provision(admin_client, tenant.shop_a.id)


def _call(api, method, device_id, suffix, body=None):
    path = f"/api/commands/{device_id}/{suffix}"
    if method == "get":
        return api.get(path)
    return api.post(path, json=body) if body is not None else api.post(path)


async def _entries(action: str) -> list[AuditEntry]:
    query = AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id)
    return await audit_rows(query)


@pytest.mark.parametrize(
    "method, suffix, body, name, params, result", COMMANDS, ids=[c[3] for c in COMMANDS]
)
async def test_every_command_reaches_the_device_and_is_audited(
    app, admin_client, device, method, suffix, body, name, params, result
):
    device_id, api_key = device
    async with FakeDevice(app, api_key) as fake:
        await fake.hello()
        request = asyncio.ensure_future(_call(admin_client, method, device_id, suffix, body))
        command = await fake.receive()
        assert (command["type"], command["name"], command["params"]) == ("command", name, params)
        await fake.answer(command, result)
        response = await asyncio.wait_for(request, WAIT_S)
    assert response.status_code == 200
    assert await response.get_json() == {"ok": True, "result": result}
    requested, finished = await _entries(f"command.{name}")
    assert (requested.outcome, finished.outcome) == ("requested", "ok")
    assert requested.details == {"command_id": command["id"], "params": params}
    assert finished.details["command_id"] == command["id"]
    assert isinstance(finished.details["latency_ms"], int)
    assert requested.actor == finished.actor == "bakery-admin"
    assert requested.target == f"device:{device_id}"


async def test_offline_device_answers_503_at_once(admin_client, device):
    started = time.monotonic()
    response = await admin_client.post(f"/api/commands/{device[0]}/open", json={})
    assert time.monotonic() - started < 0.5
    assert response.status_code == 503
    assert await error_code(response) == "device_offline"
    outcomes = [entry.outcome for entry in await _entries("command.open")]
    assert outcomes == ["requested", "device_offline"]


async def test_silent_device_answers_504_near_the_timeout(app, admin_client, device):
    async with FakeDevice(app, device[1]) as fake:
        await fake.hello()
        started = time.monotonic()
        request = asyncio.ensure_future(admin_client.post(f"/api/commands/{device[0]}/open"))
        await fake.receive()  # and never answer
        response = await asyncio.wait_for(request, WAIT_S)
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert await error_code(response) == "device_timeout"
    assert 2 <= elapsed < 2.5  # COMMAND_TIMEOUT_S=2 in the test settings
    assert app.extensions["hub"].pending == {}


async def test_device_refusal_answers_502_with_its_error(app, admin_client, device):
    async with FakeDevice(app, device[1]) as fake:
        await fake.hello()
        request = asyncio.ensure_future(
            admin_client.post(f"/api/commands/{device[0]}/override", json={"mode": "open"})
        )
        await fake.answer(await fake.receive(), error={"code": "busy", "message": "Relay busy"})
        response = await asyncio.wait_for(request, WAIT_S)
    assert response.status_code == 502
    error = (await response.get_json())["error"]
    assert error["code"] == "device_error" and error["message"]
    assert error["device_error"] == {"code": "busy", "message": "Relay busy"}
    finished = (await _entries("command.override"))[-1]
    assert finished.outcome == "device_error"
    assert finished.details["device_error"] == {"code": "busy", "message": "Relay busy"}


async def test_invalid_params_are_422_with_the_fields_and_nothing_is_sent(
    app, admin_client, device
):
    async with FakeDevice(app, device[1]) as fake:
        await fake.hello()
        response = await admin_client.post(
            f"/api/commands/{device[0]}/config", json={"open_duration_s": 99, "colour": "red"}
        )
        assert response.status_code == 422
        assert await error_code(response) == "validation_error"
        fields = (await response.get_json())["error"]["fields"]
        assert fields["colour"] == "is not a known field" and "open_duration_s" in fields
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)


@pytest.mark.parametrize("body", ["[1]", '"open"', "{broken"])
async def test_non_object_or_broken_body_is_rejected(admin_client, device, body):
    response = await admin_client.post(
        f"/api/commands/{device[0]}/open", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)


ROLE_MATRIX = [
    ("viewer", "post", "open", 403),
    ("viewer", "post", "override", 403),
    ("viewer", "post", "config", 403),
    ("viewer", "post", "status", 200),
    ("viewer", "get", "config", 200),
    ("staff", "post", "config", 403),
    ("staff", "post", "open", 200),
    ("staff", "post", "override", 200),
]
BODIES = {"open": {}, "override": {"mode": "open"}, "config": {"open_duration_s": 5}}
RESULTS = {"open": OPENED, "override": STATE, "config": CONFIG, "status": STATE}


@pytest.mark.parametrize("role, method, suffix, status", ROLE_MATRIX)
async def test_role_matrix(app, login_as, tenant, device, role, method, suffix, status):
    api = await login_as(getattr(tenant, role))
    async with FakeDevice(app, device[1]) as fake:
        await fake.hello()
        body = BODIES.get(suffix) if method == "post" else None
        request = asyncio.ensure_future(_call(api, method, device[0], suffix, body))
        if status == 200:
            await fake.answer(await fake.receive(), RESULTS[suffix])
        response = await asyncio.wait_for(request, WAIT_S)
        assert response.status_code == status
        if status == 403:
            assert await error_code(response) == "forbidden"
            with pytest.raises(TimeoutError):
                await fake.receive(timeout=0.2)


@pytest.mark.parametrize(
    "method, suffix", [("post", s) for s in BODIES] + [("get", "config"), ("post", "status")]
)
async def test_another_tenants_device_is_404_and_nothing_reaches_it(
    app, admin_client, login_as, other_tenant, method, suffix
):
    other_id, other_key = await provision(
        await login_as(other_tenant.admin), other_tenant.shop_a.id
    )
    async with FakeDevice(app, other_key) as fake:
        await fake.hello()
        body = BODIES.get(suffix) if method == "post" else None
        response = await _call(admin_client, method, other_id, suffix, body)
        assert response.status_code == 404
        assert await error_code(response) == "not_found"
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)
    assert await _entries(f"command.{suffix}") == []


async def test_commands_need_a_session(client):
    assert (await client.post("/api/commands/1/open", json={})).status_code == 401
    assert (await client.get("/api/commands/1/config")).status_code == 401
