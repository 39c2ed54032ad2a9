"""End-to-end fixtures: a live server with two tenants, API clients, raw devices."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.api import PASSWORD
from tests.tunnel.fakes import ScriptedDevice

WAIT_S = 10  # bound for a subprocess or a reconnect; passing runs take a fraction


class LiveApi:
    """An httpx client logged in to the live server, sending the CSRF token on writes."""

    def __init__(self, base_url: str, **client_options):
        """`client_options` go to httpx (e.g. connection limits and event hooks for load tests)."""
        self.http = httpx.AsyncClient(base_url=base_url, **{"timeout": WAIT_S, **client_options})
        self.csrf = ""

    async def login(self, username: str) -> LiveApi:
        response = await self.http.post(
            "/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]
        return self

    async def get(self, path: str, **kwargs) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(self, path: str, **kwargs) -> httpx.Response:
        return await self.http.post(path, headers={"X-CSRF-Token": self.csrf}, **kwargs)

    async def create_shop(self, name: str) -> int:
        response = await self.post("/api/shops", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()["shop"]["id"]

    async def create_device(self, shop_id: int, name: str = "Front door") -> tuple[int, str]:
        response = await self.post("/api/devices/create", json={"name": name, "shop_id": shop_id})
        assert response.status_code == 201, response.text
        body = response.json()
        return body["device"]["id"], body["registration_token"]

    async def register(self, token: str) -> dict:
        response = await self.http.post("/api/devices/register", json={"token": token})
        assert response.status_code == 201, response.text
        return response.json()

    async def device(self, device_id: int) -> dict:
        response = await self.get(f"/api/devices/{device_id}/status")
        assert response.status_code == 200, response.text
        return response.json()["device"]

    async def wait_online(self, device_id: int, online: bool = True, timeout=WAIT_S) -> float:
        """Poll the status until presence matches (a subprocess has no event to await)."""
        started = time.monotonic()
        while (await self.device(device_id))["online"] is not online:
            assert time.monotonic() - started < timeout, f"device not online={online} in time"
            await asyncio.sleep(0.05)
        return time.monotonic() - started


def _create_user(server, username: str, tenant: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "sentra_tunnel", "create-user", username, "--role", "admin"]
        + ["--tenant", tenant, "--password-stdin"],
        input=PASSWORD + "\n",
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class LiveWorld:
    server: object
    tenant: LiveApi
    other_tenant: LiveApi
    tenant_shop: int
    other_shop: int


@pytest.fixture
async def live(live_server):
    _create_user(live_server, "bakery-boss", "Bakery")
    _create_user(live_server, "kiosk-boss", "Kiosk")
    tenant = await LiveApi(live_server.url).login("bakery-boss")
    other_tenant = await LiveApi(live_server.url).login("kiosk-boss")
    world = LiveWorld(
        live_server,
        tenant,
        other_tenant,
        await tenant.create_shop("Bakery Main"),
        await other_tenant.create_shop("Kiosk Main"),
    )
    yield world
    await tenant.http.aclose()
    await other_tenant.http.aclose()


class RawDevice(ScriptedDevice):
    """A device written by hand with the `websockets` client, against a real server."""

    agent_version = "raw-1"

    def __init__(self, ws_url: str, api_key: str):
        self.ws_url, self.api_key = ws_url, api_key

    async def __aenter__(self) -> RawDevice:
        self.ws = await connect(
            self.ws_url,
            additional_headers={"Authorization": f"Bearer {self.api_key}"},
            open_timeout=WAIT_S,
        )
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.ws.close()

    async def _next(self):
        return await self.ws.recv()

    async def wait_closed(self, timeout: float = WAIT_S) -> int:
        """Keep reading (and answering probes) until the server closes; returns the code."""
        await asyncio.wait_for(self._drain(), timeout)
        return self.ws.close_code

    async def _drain(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # error codes raise; we only want the code
            async for raw in self.ws:
                await self.answered_probe(json.loads(raw) if isinstance(raw, str) else {})
