"""Fixtures for the tunnel tests: a registered device of the Bakery, the hub and the broker."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .fakes import provision


@dataclass
class Provisioned:
    id: int
    api_key: str


@pytest.fixture
async def device(admin_client, bakery) -> Provisioned:
    """A registered device in the Bakery's shop A (not connected)."""
    return Provisioned(*await provision(admin_client, bakery.shop_a.id))


@pytest.fixture
def hub(app):
    return app.extensions["hub"]


@pytest.fixture
def broker(app):
    return app.extensions["broker"]
