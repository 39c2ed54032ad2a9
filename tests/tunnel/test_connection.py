"""The tunnel's conversation through Quart's test client: hello, framing, presence,
replacement, revoke, heartbeat. The upgrade itself is tests/tunnel/test_http.py."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from quart.testing import WebsocketResponseError

from sentra_tunnel import wire as protocol
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.device import Device
from tests.support.api import audit_rows

from .fakes import STATE, WAIT_S, FakeDevice


async def _row(device_id) -> Device:
    return await Device.aget(Device.id == device_id)


async def _actions(device_id) -> list[str]:
    query = AuditEntry.select().where(AuditEntry.target == f"device:{device_id}")
    entries = await audit_rows(query)
    return [(entry.action, entry.outcome) for entry in entries]


async def _open_through(client, device_id, fake: FakeDevice) -> dict:
    """Send `open` over the API and answer it as the device; returns the HTTP body."""
    request = asyncio.ensure_future(client.post(f"/api/commands/{device_id}/open", json={}))
    command = await fake.receive()
    assert command["name"] == "open"
    await fake.answer(command, {"opened": True, "state": STATE})
    response = await asyncio.wait_for(request, WAIT_S)
    assert response.status_code == 200, await response.get_json()
    return await response.get_json()


async def test_hello_gets_welcome_and_marks_online(app, device, broker):
    async with broker.subscribe(lambda event: event["type"] == "device") as events:
        async with FakeDevice(app, device.api_key) as fake:
            welcome = await fake.hello()
            assert welcome == {"type": "welcome", "device_id": device.id, "heartbeat_s": 2}
            event = await asyncio.wait_for(events.next(), WAIT_S)
            assert event["device"]["online"] is True
            assert event["tenant_id"] and event["shop_id"]
            row = await _row(device.id)
            assert (row.online, row.generation, row.agent_version) == (True, 1, "test-1")
            assert row.state == STATE
        event = await asyncio.wait_for(events.next(), WAIT_S)
        assert event["device"]["online"] is False
    assert (await _row(device.id)).online is False
    assert ("device.connect", "ok") in await _actions(device.id)
    assert ("device.disconnect", "ok") in await _actions(device.id)


async def test_state_event_is_published_at_once_and_stored_behind(
    app, device, broker, admin_client
):
    opened = {**STATE, "door": "open", "lock": "unlocked"}
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        # The connect event may still be on its way; wait for the one carrying the new state.
        async with broker.subscribe(lambda event: event["device"]["state"] == opened) as events:
            await fake.send({"type": "event", "event": "state", "data": opened})
            event = await asyncio.wait_for(events.next(), WAIT_S)
        assert event["device"]["state"] == opened
        assert (await _row(device.id)).state == STATE  # not written on the frame itself...
        status = await admin_client.get(f"/api/devices/{device.id}/status")
        assert (await status.get_json())["device"]["state"] == opened  # ...yet read back at once
        await app.extensions["presence"].store_now()
        assert (await _row(device.id)).state == opened


MALFORMED = [
    ("binary", b"\x00\x01", "invalid_format"),
    ("not json", "{oops", "invalid_format"),
    ("not an object", "[1, 2, 3]", "invalid_format"),
    ("unknown type", '{"type": "dance"}', "unknown_type"),
    ("missing type", '{"id": "x"}', "invalid_format"),
    ("result missing fields", '{"type": "result", "id": "x"}', "invalid_format"),
    ("event missing data", '{"type": "event", "event": "state"}', "invalid_format"),
    ("event with bad state", '{"type": "event", "event": "state", "data": {}}', "invalid_format"),
    ("unknown event", '{"type": "event", "event": "smoke", "data": {}}', "unknown_type"),
    ("second hello", json.dumps({"type": "hello", "agent_version": "1", "state": STATE}), None),
]


@pytest.mark.parametrize("name, raw, code", MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_frame_gets_error_and_tunnel_keeps_serving(
    app, admin_client, device, name, raw, code
):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        await fake.send(raw)
        error = await fake.receive()
        assert error["type"] == "error"
        assert error["error"]["code"] == (code or "invalid_format")
        assert error["error"]["message"]
        body = await _open_through(admin_client, device.id, fake)
        assert body == {"ok": True, "result": {"opened": True, "state": STATE}}


async def test_frames_before_hello_are_refused_but_hello_still_works(app, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.send({"type": "event", "event": "state", "data": STATE})
        error = await fake.receive()
        assert error["error"]["code"] == "invalid_format"
        await fake.hello()


async def test_oversize_frame_closes_with_1009(app, admin_client, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        await fake.send("x" * (protocol.MAX_FRAME_BYTES + 1))
        assert await fake.wait_closed() == 1009
    assert (await _row(device.id)).online is False


async def test_frame_of_exactly_64_kib_is_only_an_error(app, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        await fake.send(" " * (protocol.MAX_FRAME_BYTES - 2) + "{}")
        assert (await fake.receive())["error"]["code"] == "invalid_format"


async def test_second_connection_replaces_the_first_and_stays_online(
    app, admin_client, device, hub
):
    async with FakeDevice(app, device.api_key) as first:
        await first.hello()
        async with FakeDevice(app, device.api_key) as second:
            await second.hello()
            assert await first.wait_closed() == protocol.CLOSE_REPLACED
            await hub.drain()  # the old tunnel's cleanup has run: it must not mark us offline
            row = await _row(device.id)
            assert (row.online, row.generation) == (True, 2)
            await _open_through(admin_client, device.id, second)


async def test_revoke_closes_with_4001_within_a_second_and_key_is_dead(app, admin_client, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        started = time.monotonic()
        response = await admin_client.post(f"/api/devices/{device.id}/revoke")
        assert response.status_code == 204
        assert await fake.wait_closed(timeout=1) == protocol.CLOSE_REVOKED
        assert time.monotonic() - started < 1
    async with FakeDevice(app, device.api_key) as again:
        with pytest.raises(WebsocketResponseError) as rejected:
            await again.hello()
    assert rejected.value.response.status_code == 401


async def test_silent_device_is_closed_and_offline_within_two_heartbeats(app, device, hub):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        fake.answer_probes = False
        silent_since = time.monotonic()
        code = await fake.wait_closed(timeout=2 * 2 + 1)
        await hub.drain()
        elapsed = time.monotonic() - silent_since
    assert code == protocol.CLOSE_POLICY
    assert elapsed < 2 * 2, elapsed
    assert (await _row(device.id)).online is False


async def test_answering_probes_keeps_an_idle_device_online(app, device):
    async with FakeDevice(app, device.api_key) as fake:
        await fake.hello()
        with pytest.raises(TimeoutError):
            await fake.receive(timeout=2 * 2 + 1)  # probes are answered inside receive()
        assert (await _row(device.id)).online is True


async def test_device_without_hello_is_closed(app, device):
    async with FakeDevice(app, device.api_key) as fake:
        assert await fake.wait_closed(timeout=2 * 2 + 1) == protocol.CLOSE_POLICY
