"""Service fixtures: call a service as a given user, inside a request as the routes do."""

from __future__ import annotations

import contextlib

import pytest
from quart import g


@pytest.fixture
def acting_as(app):
    """`async with acting_as(user):` runs the block in a request made by `user` (None: without
    a session, as a Pi registering)."""

    @contextlib.asynccontextmanager
    async def acting(user=None):
        async with app.test_request_context("/", method="POST"):
            g.user = user
            yield user

    return acting
