"""The /ws upgrade: a device key in the Authorization header, nothing else, and no browser."""

from __future__ import annotations

import asyncio

import pytest
from quart.testing import WebsocketResponseError

from .fakes import WAIT_S, FakeDevice


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer 0123456789abcdef.wrong-secret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "malformed", "unknown", "not bearer"],
)
async def test_handshake_without_a_valid_key_is_plain_401(app, device, headers):
    async with app.test_client().websocket("/ws", headers=headers) as ws:
        with pytest.raises(WebsocketResponseError) as rejected:
            await asyncio.wait_for(ws.receive(), WAIT_S)
    assert rejected.value.response.status_code == 401


async def test_wrong_secret_for_a_real_key_id_is_401(app, device):
    key_id = device.api_key.partition(".")[0]
    async with FakeDevice(app, f"{key_id}.{'x' * 43}") as fake:
        with pytest.raises(WebsocketResponseError) as rejected:
            await fake.hello()
    assert rejected.value.response.status_code == 401


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost", "null"])
async def test_an_upgrade_from_a_browser_is_refused_even_with_a_valid_key(app, device, origin):
    headers = {"Authorization": f"Bearer {device.api_key}", "Origin": origin}
    async with app.test_client().websocket("/ws", headers=headers) as ws:
        with pytest.raises(WebsocketResponseError) as refused:
            await asyncio.wait_for(ws.receive(), WAIT_S)
    assert refused.value.response.status_code == 403
    assert not app.extensions["hub"].is_connected(device.id)
