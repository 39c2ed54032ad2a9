"""Fixtures for the tunnel tests: a registered device of the Bakery, the hub and the broker."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.api import ApiClient, make_tenant

from .fakes import provision


@dataclass
class Provisioned:
    id: int
    api_key: str


@pytest.fixture
async def device(admin_client, tenant) -> Provisioned:
    """A registered device in the Bakery's shop A (not connected)."""
    return Provisioned(*await provision(admin_client, tenant.shop_a.id))


@pytest.fixture
def hub(app):
    return app.extensions["hub"]


@pytest.fixture
def broker(app):
    return app.extensions["broker"]


@dataclass
class TunnelWorld:
    """An app with its own settings, and the Bakery's admin logged in to it."""

    app: object
    admin: ApiClient
    shop_id: int

    async def device(self, name: str = "Front door") -> Provisioned:
        """A registered device in the Bakery's shop A (not connected)."""
        return Provisioned(*await provision(self.admin, self.shop_id, name))

    @property
    def hub(self):
        return self.app.extensions["hub"]

    @property
    def broker(self):
        return self.app.extensions["broker"]


@pytest.fixture
def world_with(app_with):
    """`await world_with(**overrides)`: a TunnelWorld whose app has these settings."""

    async def build(**overrides) -> TunnelWorld:
        app = await app_with(**overrides)
        tenant = await make_tenant("Bakery")
        admin = ApiClient(app.test_client())
        response = await admin.login(tenant.admin.username)
        assert response.status_code == 200, await response.get_json()
        return TunnelWorld(app, admin, tenant.shop_a.id)

    return build
