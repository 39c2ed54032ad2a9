"""A scriptable device on Quart's test websocket, and quick ways to provision one."""

from __future__ import annotations

import asyncio
import json
import time

from quart.testing.connections import WebsocketDisconnectError

from sentra_tunnel.wire import PROBE_PREFIX

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


class ScriptedDevice:
    """The tunnel protocol spoken by hand over any websocket client with `send` and `_next()`;
    heartbeat probes are answered on the way unless `answer_probes` is turned off."""

    agent_version = "test-1"
    answer_probes = True
    ws = None

    async def _next(self):
        raise NotImplementedError

    async def send(self, frame) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def hello(self, state: dict | None = None) -> dict:
        hello = {"type": "hello", "agent_version": self.agent_version, "state": state or STATE}
        await self.send(hello)
        welcome = await self.receive()
        assert welcome["type"] == "welcome", welcome
        return welcome

    async def receive(self, timeout: float = WAIT_S) -> dict:
        """The next frame that is not a heartbeat probe."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            frame = json.loads(await asyncio.wait_for(self._next(), max(left, 0.001)))
            if not await self.answered_probe(frame):
                return frame

    async def answered_probe(self, frame: dict) -> bool:
        """True if `frame` was a heartbeat probe (answered, or ignored when told to be silent)."""
        if frame.get("type") != "command" or not frame["id"].startswith(PROBE_PREFIX):
            return False
        if self.answer_probes:
            await self.answer(frame, STATE)
        return True

    async def answer(self, command: dict, result: dict | None = None, error=None) -> None:
        outcome = {"success": False, "error": error} if error else {"success": True}
        if not error:
            outcome["result"] = result or {}
        await self.send({"type": "result", "id": command["id"], **outcome})


class FakeDevice(ScriptedDevice):
    """A device on Quart's test websocket."""

    def __init__(self, app, api_key: str):
        self.app = app
        self.api_key = api_key
        self.close_code: int | None = None
        self._context = None

    async def __aenter__(self) -> FakeDevice:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        self._context = self.app.test_client().websocket("/ws", headers=headers)
        self.ws = await self._context.__aenter__()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._context.__aexit__(*exc_info)

    async def _next(self):
        return await self.ws.receive()

    async def wait_closed(self, timeout: float = WAIT_S) -> int:
        """Read until the server closes the tunnel; returns the close code."""
        try:
            while True:
                await self.receive(timeout)
        except WebsocketDisconnectError as closed:
            self.close_code = closed.args[0]
            return self.close_code
