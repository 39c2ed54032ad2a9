"""A scriptable device on Quart's test websocket, and quick ways to provision one."""

from __future__ import annotations

import asyncio
import json
import time

from quart.testing.connections import WebsocketDisconnectError

from sentra_tunnel.tunnel.connection import PROBE_PREFIX

STATE = {"door": "closed", "lock": "locked", "mode": "auto", "override_until": None}
CONFIG = {"open_duration_s": 5, "timezone": "Europe/Berlin", "schedule": []}
WAIT_S = 5  # upper bound for anything that should happen at once


async def provision(admin_client, shop_id: int, name: str = "Front door") -> tuple[int, str]:
    """Create and register a device through the API; returns (device_id, api_key)."""
    response = await admin_client.post(
        "/api/devices/create", json={"name": name, "shop_id": shop_id}
    )
    assert response.status_code == 201, await response.get_json()
    token = (await response.get_json())["registration_token"]
    response = await admin_client.client.post("/api/devices/register", json={"token": token})
    assert response.status_code == 201, await response.get_json()
    body = await response.get_json()
    return body["device_id"], body["api_key"]


class FakeDevice:
    """Speaks the tunnel protocol by hand; answers heartbeat probes unless told to stay silent."""

    def __init__(self, app, api_key: str):
        self.app = app
        self.api_key = api_key
        self.answer_probes = True
        self.close_code: int | None = None
        self._context = None
        self.ws = None

    async def __aenter__(self) -> FakeDevice:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        self._context = self.app.test_client().websocket("/ws", headers=headers)
        self.ws = await self._context.__aenter__()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._context.__aexit__(*exc_info)

    async def hello(self, state: dict | None = None) -> dict:
        await self.send({"type": "hello", "agent_version": "test-1", "state": state or STATE})
        welcome = await self.receive()
        assert welcome["type"] == "welcome", welcome
        return welcome

    async def send(self, frame) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def receive(self, timeout: float = WAIT_S) -> dict:
        """The next frame that is not a heartbeat probe (probes are answered on the way)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            frame = json.loads(await asyncio.wait_for(self.ws.receive(), max(left, 0.001)))
            if frame.get("type") == "command" and frame["id"].startswith(PROBE_PREFIX):
                if self.answer_probes:
                    await self.answer(frame, STATE)
                continue
            return frame

    async def answer(self, command: dict, result: dict | None = None, error=None) -> None:
        if error is not None:
            await self.send(
                {"type": "result", "id": command["id"], "success": False, "error": error}
            )
        else:
            await self.send(
                {"type": "result", "id": command["id"], "success": True, "result": result or {}}
            )

    async def wait_closed(self, timeout: float = WAIT_S) -> int:
        """Read until the server closes the tunnel; returns the close code."""
        try:
            while True:
                await self.receive(timeout)
        except WebsocketDisconnectError as closed:
            self.close_code = closed.args[0]
            return self.close_code
