"""Fixtures: a fresh database per test, the app, API clients per role, a live server."""

from __future__ import annotations

import pytest

from sentra_tunnel import create_app
from sentra_tunnel.config import Settings
from sentra_tunnel.db import migrate_up
from tests.support.api import ApiClient, make_tenant, make_user
from tests.support.live import LiveServer


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'test.db'}",
        secret_key="test-secret-key-0123456789abcdef",
        debug=True,
        bcrypt_rounds=4,
        command_timeout_s=2,
        heartbeat_s=2,
        testing=True,
    )


@pytest.fixture
async def app(settings):
    migrate_up(settings.database_url)
    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app) -> ApiClient:
    return ApiClient(app.test_client())


def client_factory(app):
    async def logged_in(user) -> ApiClient:
        api = ApiClient(app.test_client())
        response = await api.login(user.username)
        assert response.status_code == 200, await response.get_data()
        return api

    return logged_in


@pytest.fixture
def login_as(app):
    """`await login_as(user)` gives an ApiClient with that user's session."""
    return client_factory(app)


@pytest.fixture
async def superadmin(app):
    return await make_user("operator", "superadmin")


@pytest.fixture
async def superadmin_client(login_as, superadmin) -> ApiClient:
    return await login_as(superadmin)


@pytest.fixture
async def tenant(app):
    return await make_tenant("Bakery")


@pytest.fixture
async def other_tenant(app):
    """A second tenant, for isolation tests."""
    return await make_tenant("Kiosk")


@pytest.fixture
async def admin_client(login_as, tenant) -> ApiClient:
    return await login_as(tenant.admin)


@pytest.fixture
async def staff_client(login_as, tenant) -> ApiClient:
    """The tenant's staff user, limited to shop_a."""
    return await login_as(tenant.staff)


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """The real server's environment for a module's tests; a module may override it."""
    return {"HEARTBEAT_S": "2", "COMMAND_TIMEOUT_S": "2"}


@pytest.fixture
def live_server(tmp_path, live_server_env):
    server = LiveServer(tmp_path, **live_server_env)
    server.migrate()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def app_with(settings):
    """`await app_with(**overrides)`: an app on a fresh database, with settings changed."""
    started = []

    async def build(**overrides):
        migrate_up(settings.database_url)
        application = create_app(settings.with_overrides(**overrides))
        serving = application.test_app()
        await serving.__aenter__()
        started.append(serving)
        return application

    yield build
    for serving in reversed(started):
        await serving.__aexit__(None, None, None)
