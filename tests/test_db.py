"""Connections are lent per unit of work, and an exhausted pool answers 503 busy, never 500."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from sentra_tunnel import db
from sentra_tunnel.db import DatabaseBusy, database
from sentra_tunnel.models.user import User
from tests.support.api import ApiClient, error_code, make_tenant

WAIT_S = 5


@pytest.fixture
async def one_connection(app_with, monkeypatch):
    """An app whose pool has a single connection and gives up waiting for it quickly."""
    monkeypatch.setattr(db, "ACQUIRE_TIMEOUT_S", 0.3)
    return await app_with(database_pool_size=1)


@contextlib.asynccontextmanager
async def connection_held():
    """Another task sits in an open transaction, so it keeps the pool's connection."""
    holding, finish = asyncio.Event(), asyncio.Event()

    async def hold():
        async with database.obj.atomic():
            await database.count(User.select())
            holding.set()
            await finish.wait()

    task = asyncio.ensure_future(hold())
    await asyncio.wait_for(holding.wait(), WAIT_S)
    try:
        yield
    finally:
        finish.set()
        await task


async def test_a_task_that_queried_once_holds_no_connection(one_connection):
    """A tunnel or stream queries, then waits for minutes: the only connection is free meanwhile."""
    waiting = asyncio.Event()
    release = asyncio.Event()

    async def long_lived():
        await database.count(User.select())
        waiting.set()
        await release.wait()

    task = asyncio.ensure_future(long_lived())
    await asyncio.wait_for(waiting.wait(), WAIT_S)
    others = await asyncio.gather(*(database.count(User.select()) for _ in range(20)))
    assert len(others) == 20
    release.set()
    await task


async def test_a_transaction_holds_its_connection_until_it_ends(one_connection):
    async with connection_held():
        with pytest.raises(DatabaseBusy):
            await database.count(User.select())
    assert await database.count(User.select()) >= 1  # given back at commit


async def test_an_exhausted_pool_answers_503_busy_with_retry_after(one_connection):
    world = await make_tenant("Bakery")
    api = ApiClient(one_connection.test_client())
    assert (await api.login(world.admin.username)).status_code == 200
    async with connection_held():
        response = await api.get("/api/devices")
        assert response.status_code == 503
        assert await error_code(response) == "busy"
        assert int(response.headers["Retry-After"]) >= 1
    assert (await api.get("/api/devices")).status_code == 200


async def test_a_line_too_long_for_the_pool_is_refused_at_once(one_connection, monkeypatch):
    monkeypatch.setattr(database.obj, "_max_waiting", 2)
    async with connection_held():
        queries = [asyncio.ensure_future(database.count(User.select())) for _ in range(5)]
        await asyncio.sleep(0)  # let the queries start: two join the line, three are refused
    outcomes = await asyncio.gather(*queries, return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, DatabaseBusy)]
    assert len(refused) == 3
    assert all(isinstance(o, int) for o in outcomes if o not in refused)  # the line was served
