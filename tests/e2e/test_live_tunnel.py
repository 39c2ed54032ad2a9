"""The tunnel over a real Hypercorn, with devices written by hand on `websockets`."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from websockets.exceptions import InvalidStatus

from .conftest import WAIT_S, RawDevice


async def _registered(live) -> tuple[int, str]:
    device_id, token = await live.tenant.create_device(live.tenant_shop)
    registered = await live.tenant.register(token)
    assert registered["ws_url"] == live.server.ws_url
    return device_id, registered["api_key"]


async def test_protocol_over_hypercorn(live):
    """Malformed frames get error frames, then commands still work; oversize closes with 1009."""
    device_id, api_key = await _registered(live)
    async with RawDevice(live.server.ws_url, api_key) as device:
        welcome = await device.hello()
        assert welcome == {"type": "welcome", "device_id": device_id, "heartbeat_s": 2}
        await live.tenant.wait_online(device_id)
        for raw, code in [
            (b"\x00binary", "invalid_format"),
            ("not json", "invalid_format"),
            ("[]", "invalid_format"),
            ('{"type": "nope"}', "unknown_type"),
            ('{"type": "result"}', "invalid_format"),
        ]:
            await device.send(raw)
            assert (await device.receive())["error"]["code"] == code, raw
        request = asyncio.ensure_future(live.tenant.post(f"/api/commands/{device_id}/status"))
        command = await device.receive()
        await device.answer(command, {"door": "open", "lock": "unlocked", "mode": "open"})
        response = await request
        assert response.status_code == 200
        assert response.json()["result"]["door"] == "open"
        await device.send("x" * (64 * 1024 + 1))
        assert await device.wait_closed() == 1009
    await live.tenant.wait_online(device_id, online=False)


async def test_timeouts_refusals_and_offline(live):
    device_id, api_key = await _registered(live)
    offline = await live.tenant.post(f"/api/commands/{device_id}/open", json={})
    assert (offline.status_code, offline.json()["error"]["code"]) == (503, "device_offline")
    async with RawDevice(live.server.ws_url, api_key) as device:
        await device.hello()
        started = time.monotonic()
        request = asyncio.ensure_future(live.tenant.post(f"/api/commands/{device_id}/open"))
        await device.receive()  # never answered
        response = await request
        assert response.status_code == 504
        assert 2 <= time.monotonic() - started < 3
        request = asyncio.ensure_future(
            live.tenant.post(f"/api/commands/{device_id}/override", json={"mode": "locked"})
        )
        await device.answer(await device.receive(), error={"code": "nope", "message": "No."})
        response = await request
        assert response.status_code == 502
        assert response.json()["error"]["device_error"] == {"code": "nope", "message": "No."}


async def test_second_connection_replaces_first_and_revoke_closes_4001(live):
    device_id, api_key = await _registered(live)
    async with RawDevice(live.server.ws_url, api_key) as first:
        await first.hello()
        async with RawDevice(live.server.ws_url, api_key) as second:
            await second.hello()
            assert await first.wait_closed() == 4000
            assert (await live.tenant.device(device_id))["online"] is True
            started = time.monotonic()
            revoked = await live.tenant.post(f"/api/devices/{device_id}/revoke")
            assert revoked.status_code == 204
            assert await second.wait_closed(timeout=1) == 4001
            assert time.monotonic() - started < 1
    with pytest.raises(InvalidStatus) as rejected:
        async with RawDevice(live.server.ws_url, api_key):
            pass
    assert rejected.value.response.status_code == 401
    assert (await live.tenant.device(device_id))["online"] is False


async def test_device_that_stops_answering_is_offline_within_two_heartbeats(live):
    device_id, api_key = await _registered(live)
    async with RawDevice(live.server.ws_url, api_key) as device:
        await device.hello()
        await live.tenant.wait_online(device_id)
        device.answer_probes = False
        silent_since = time.monotonic()
        assert await device.wait_closed(timeout=WAIT_S) == 1008
        await live.tenant.wait_online(device_id, online=False)
        assert time.monotonic() - silent_since < 2 * 2


async def test_another_tenants_device_is_404_and_receives_nothing(live):
    device_id, token = await live.other_tenant.create_device(live.other_shop)
    api_key = (await live.other_tenant.register(token))["api_key"]
    async with RawDevice(live.server.ws_url, api_key) as device:
        await device.hello()
        calls = [
            live.tenant.post(f"/api/commands/{device_id}/open", json={}),
            live.tenant.post(f"/api/commands/{device_id}/status"),
            live.tenant.get(f"/api/commands/{device_id}/config"),
            live.tenant.post(f"/api/devices/{device_id}/revoke"),
            live.tenant.get(f"/api/devices/{device_id}/status"),
        ]
        for call in calls:
            assert (await call).status_code == 404
        with pytest.raises(TimeoutError):
            await device.receive(timeout=0.3)
        assert (await live.other_tenant.device(device_id))["online"] is True


async def _stream_until_it_ends(live, opened: asyncio.Event) -> int:
    async with live.tenant.http.stream("GET", "/events") as page:
        opened.set()
        return sum([1 async for _ in page.aiter_lines()])


async def test_sigterm_closes_tunnels_with_1001_and_stores_them_offline(live):
    """A restart tells every device and live page at once, instead of leaving them to
    Hypercorn's grace period and its cancellations."""
    devices = [await _registered(live) for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        tunnels = [
            await stack.enter_async_context(RawDevice(live.server.ws_url, key))
            for _, key in devices
        ]
        for tunnel in tunnels:
            await tunnel.hello()
        opened = asyncio.Event()
        page = asyncio.ensure_future(_stream_until_it_ends(live, opened))
        await asyncio.wait_for(opened.wait(), WAIT_S)
        closing = [asyncio.ensure_future(tunnel.wait_closed()) for tunnel in tunnels]
        live.server.process.terminate()
        assert await asyncio.gather(*closing) == [1001, 1001, 1001]
        assert await asyncio.wait_for(page, WAIT_S) > 0  # ended cleanly after its messages
        assert await asyncio.to_thread(live.server.process.wait, WAIT_S) == 0
    shutdown_log = "".join(live.server.output)
    assert "Traceback" not in shutdown_log, shutdown_log[-2000:]
    live.server.start()
    for device_id, _ in devices:
        assert (await live.tenant.device(device_id))["online"] is False


async def test_a_device_cannot_forge_log_lines(live):
    """Whatever a device calls its agent version, the server's log keeps one line per record."""
    _, api_key = await _registered(live)
    async with RawDevice(live.server.ws_url, api_key) as device:
        device.agent_version = "1.0\nFORGED-RECORD ERROR server: all doors open"
        await device.hello()
        await device.send(
            '{"type": "result", "id": "x\\nFORGED-RECORD", "success": true, "result": {}}'
        )
        await device.send("sync")
        await device.receive()  # the error frame: everything before it was handled and logged
    lines = "".join(live.server.output).splitlines()
    assert not [line for line in lines if line.startswith("FORGED-RECORD")]
    assert any("1.0\\nFORGED-RECORD" in line for line in lines)
