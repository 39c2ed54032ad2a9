"""The hub: results resolve the right request; no future outlives its command, whatever happens."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from quart import g

from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.services.commands import run_command
from sentra_tunnel.tunnel import hub as hub_module
from sentra_tunnel.tunnel.hub import DeviceOffline, DeviceRejected, DeviceTimeout
from tests.support.api import audit_rows

from .fakes import STATE, WAIT_S, FakeDevice, provision


async def test_offline_device_fails_at_once_without_a_pending_future(hub, device):
    started = time.monotonic()
    with pytest.raises(DeviceOffline):
        await hub.send(device.id, "status", {}, timeout=10)
    assert time.monotonic() - started < 0.5
    assert hub.pending == {}


async def test_result_resolves_and_late_duplicate_is_dropped(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        request = asyncio.ensure_future(hub.send(device.id, "status", {}, timeout=WAIT_S))
        command = await fake.receive()
        assert command["name"] == "status" and command["params"] == {}
        await fake.answer(command, STATE)
        assert await asyncio.wait_for(request, WAIT_S) == STATE
        assert hub.pending == {}
        dropped = hub.dropped_results
        await fake.answer(command, STATE)  # answered already
        await fake.send({"type": "result", "id": "never-sent", "success": True, "result": {}})
        await _processed(fake)
        assert hub.dropped_results == dropped + 2


async def test_device_error_is_raised_with_its_code(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        request = asyncio.ensure_future(hub.send(device.id, "open", {}, timeout=WAIT_S))
        command = await fake.receive()
        await fake.answer(command, error={"code": "door_jammed", "message": "stuck"})
        with pytest.raises(DeviceRejected) as rejected:
            await asyncio.wait_for(request, WAIT_S)
        assert (rejected.value.code, rejected.value.message) == ("door_jammed", "stuck")
        assert hub.pending == {}


async def test_timeout_leaves_nothing_behind_and_a_late_answer_is_dropped(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        request = asyncio.ensure_future(hub.send(device.id, "open", {}, timeout=0.3))
        command = await fake.receive()
        with pytest.raises(DeviceTimeout):
            await asyncio.wait_for(request, WAIT_S)
        assert hub.pending == {}
        assert hub.carried_by(hub.connections[device.id]) == {}
        dropped = hub.dropped_results
        await fake.answer(command, {"opened": True})
        await _processed(fake)
        assert hub.dropped_results == dropped + 1


async def test_disconnect_mid_command_fails_it_as_offline(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        request = asyncio.ensure_future(hub.send(device.id, "open", {}, timeout=WAIT_S))
        await fake.receive()
    with pytest.raises(DeviceOffline):
        await asyncio.wait_for(request, WAIT_S)
    assert hub.pending == {}
    assert device.id not in hub.connections


async def test_cancelled_request_leaves_nothing_behind_and_is_audited(app, hub, device, tenant):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        async with app.test_request_context("/api/commands/1/open", method="POST"):
            g.user = tenant.staff
            request = asyncio.ensure_future(run_command(tenant.staff, device.id, "open", {}))
            command = await fake.receive()
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        assert hub.pending == {}
        assert hub.carried_by(hub.connections[device.id]) == {}
        await hub.drain()
        await fake.answer(command, {"opened": True})
    query = AuditEntry.select().where(AuditEntry.action == "command.open")
    outcomes = [entry.outcome for entry in await audit_rows(query.order_by(AuditEntry.id))]
    assert outcomes == ["requested", "cancelled"]


async def test_a_slow_reader_is_closed_not_buffered(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        connection = hub.connections[device.id]
        for _ in range(connection.socket.outbox.maxsize + 1):
            connection.send({"type": "error", "error": {"code": "x", "message": "flood"}})
        assert connection.socket.close_code == 1013
        await hub.drain()


async def _processed(fake: FakeDevice) -> None:
    """Frames are handled in order: once a bad frame's error comes back, all before it are done."""
    await fake.send("sync")
    assert (await fake.receive())["type"] == "error"


class ConnectingTunnel:
    """Just what `Hub.attach` looks at: a tunnel whose key was checked at `started`."""

    def __init__(self, device_id: int, started: float, generation: int = 1, key_id: str = "k1"):
        self.device_id, self.started, self.generation = device_id, started, generation
        self.device = SimpleNamespace(key_id=key_id)
        self.closed_with: int | None = None

    def close(self, code: int, reason: str) -> None:
        self.closed_with = code


async def test_a_tunnel_revoked_between_key_check_and_attach_is_refused(hub):
    checked = ConnectingTunnel(device_id=7, started=time.monotonic())
    hub.close_local(7, 4001, "key revoked")  # nothing attached yet: it would be missed
    assert await hub.attach(checked) is False
    assert checked.closed_with == 4001 and not hub.is_connected(7)
    later = ConnectingTunnel(device_id=7, started=time.monotonic() + 1)  # a fresh key check
    assert await hub.attach(later) is True and hub.is_connected(7)
    await hub.detach(later)


async def test_only_the_tunnel_a_command_went_to_may_answer_it(
    app, hub, device, admin_client, tenant
):
    other_id, other_key = await provision(admin_client, tenant.shop_a.id, "Back door")
    async with FakeDevice(app, device.api_key) as door, FakeDevice(app, other_key) as other:
        await door.hello()
        await other.hello()
        request = asyncio.ensure_future(hub.send(device.id, "status", {}, timeout=WAIT_S))
        command = await door.receive()
        dropped = hub.dropped_results
        await other.answer(command, {**STATE, "door": "open"})  # knows the id, was not asked
        await _processed(other)
        assert hub.dropped_results == dropped + 1 and not request.done()
        await door.answer(command, STATE)
        assert await asyncio.wait_for(request, WAIT_S) == STATE
    assert other_id != device.id


async def test_a_command_bound_to_a_key_never_reaches_a_tunnel_of_another_key(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        with pytest.raises(DeviceOffline):
            await hub.send(device.id, "open", {}, timeout=WAIT_S, key_id="not-its-key")
        key_id = device.api_key.partition(".")[0]
        request = asyncio.ensure_future(
            hub.send(device.id, "status", {}, timeout=WAIT_S, key_id=key_id)
        )
        await fake.answer(await fake.receive(), STATE)
        assert await asyncio.wait_for(request, WAIT_S) == STATE


async def test_a_refused_key_never_attaches_whenever_its_key_was_checked(hub):
    hub.close_local(7, 4001, "key revoked")
    hub.refuse_key("k1")
    late = ConnectingTunnel(device_id=7, started=time.monotonic() + 1)  # checked after the close
    assert hub.refuses_key("k1") and not hub.admits(late) and late.closed_with == 4001
    assert await hub.attach(ConnectingTunnel(7, time.monotonic() + 1)) is False
    renewed = ConnectingTunnel(device_id=7, started=time.monotonic() + 1, key_id="k2")
    assert await hub.attach(renewed) is True  # the device's new key
    await hub.detach(renewed)


async def test_a_refused_key_is_dropped_only_after_the_database_forgot_it(hub, monkeypatch):
    monkeypatch.setattr(hub_module, "CLOSED_MEMORY_S", 0)  # no grace: dropped at the next sweep
    hub.refuse_key("k1")
    hub.refuse_key("k2")
    hub.key_forgotten("k1")
    assert hub.refuses_key("k1")  # kept until the next sweep, for handshakes under way
    hub.key_forgotten(None)
    assert not hub.refuses_key("k1")
    assert hub.refuses_key("k2")  # the database never confirmed it: refused for good


async def test_no_command_reaches_a_tunnel_whose_key_was_refused(app, hub, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        hub.refuse_key(device.api_key.partition(".")[0])  # its close may still be on the way
        with pytest.raises(DeviceOffline):
            await hub.send(device.id, "open", {}, timeout=WAIT_S)
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=0.2)
