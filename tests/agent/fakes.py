"""A fake tunnel hub: the server side of the WebSocket protocol, just enough for agent tests."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection

API_KEY = "test-key-" + "a" * 40
TIMEOUT = 5


class FakeHub:
    """Accepts tunnels with API_KEY, answers hello with welcome, hands each one to the test."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[tuple[ServerConnection, dict]] = asyncio.Queue()
        self.welcome = True
        self.refusals: list[tuple[HTTPStatus, str]] = []  # the next upgrades refused, in order

    def check_key(self, connection, request):
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unknown key\n")
        if self.refusals:
            status, retry_after = self.refusals.pop(0)
            response = connection.respond(status, "busy\n")
            response.headers["Retry-After"] = retry_after
            return response
        return None

    async def handler(self, ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        if self.welcome:
            await ws.send(json.dumps({"type": "welcome", "device_id": "dev_1", "heartbeat_s": 20}))
        else:
            await ws.send(json.dumps({"type": "error", "error": {"code": "invalid_format"}}))
        await self.connections.put((ws, hello))
        await ws.wait_closed()

    async def next_connection(self) -> tuple[ServerConnection, dict]:
        return await asyncio.wait_for(self.connections.get(), TIMEOUT)
