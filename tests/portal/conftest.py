"""Portal fixtures: a browser-like client that logs in through the form and keeps the CSRF token."""

from __future__ import annotations

import re

import pytest

from sentra_tunnel.models.device import Device
from tests.support.api import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CLOSED = {"door": "closed", "lock": "locked", "mode": "auto", "override_until": None}


class PortalClient:
    """Quart's test client as a phone would use it: form posts, cookies, htmx headers."""

    def __init__(self, client):
        self.client = client
        self.csrf_token = ""

    async def login(self, username: str, password: str = PASSWORD):
        response = await self.client.post(
            "/login", form={"username": username, "password": password}
        )
        me = await self.client.get("/auth/me")
        if me.status_code == 200:
            self.csrf_token = (await me.get_json())["csrf_token"]
        return response

    async def get(self, path: str, htmx: bool = False, headers: dict | None = None):
        headers = {**({"HX-Request": "true"} if htmx else {}), **(headers or {})}
        return await self.client.get(path, headers=headers)

    async def post(self, path: str, form: dict | None = None, htmx: bool = True, csrf=True):
        headers = {"HX-Request": "true"} if htmx else {}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf_token
        return await self.client.post(path, form=form or {}, headers=headers)


@pytest.fixture
def portal_as(app):
    async def logged_in(user) -> PortalClient:
        portal = PortalClient(app.test_client())
        response = await portal.login(user.username)
        assert response.status_code == 303, await response.get_data(as_text=True)
        return portal

    return logged_in


async def make_device(world, shop=None, name="Front door", online=True, state=CLOSED) -> Device:
    return await Device.acreate(
        tenant=world.tenant,
        shop=shop or world.shop_a,
        name=name,
        registered=True,
        online=online,
        state=state,
        agent_version="1.0.0",
    )


@pytest.fixture
async def tenant_door(tenant):
    return await make_device(tenant)


@pytest.fixture
async def other_door(other_tenant):
    return await make_device(other_tenant, name="Kiosk door")
