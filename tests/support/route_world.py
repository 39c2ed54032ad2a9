"""One app shared by a module of URL-map tests: two tenants, a user of every role, and doors
whose tunnels are held by scripted devices that answer every command and remember it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError

from sentra_tunnel import create_app
from sentra_tunnel.config import Settings
from sentra_tunnel.db import migrate_up
from sentra_tunnel.models.base import utcnow
from sentra_tunnel.models.device import Device
from sentra_tunnel.models.user import User
from sentra_tunnel.security import token_hash
from sentra_tunnel.services.devices import new_api_key
from tests.support.api import ApiClient, TenantWorld, make_tenant, make_user
from tests.tunnel.fakes import CONFIG, STATE, WAIT_S, FakeDevice

# The roles of the matrix, in the order of its rows' statuses.
ROLES = ("superadmin", "admin", "staff", "viewer", "shop_limited", "must_change", "anonymous")
RESULTS = {
    "open": {"opened": True, "state": STATE},
    "status": STATE,
    "get_config": CONFIG,
    "set_config": CONFIG,
    "override": STATE,
}
UNLIMITED = "100000/minute"  # one test client sends everything: limits would hide the routes


class AnsweringDevice(FakeDevice):
    """A connected door that answers every command as a healthy Pi does, and keeps a list."""

    def __init__(self, app, api_key: str):
        super().__init__(app, api_key)
        self.commands: list[dict] = []
        self._answering: asyncio.Task | None = None

    async def connect(self) -> AnsweringDevice:
        await self.__aenter__()
        await self.hello()
        self._answering = asyncio.ensure_future(self._answer_forever())
        return self

    async def _answer_forever(self) -> None:
        with contextlib.suppress(WebsocketDisconnectError):
            while True:
                frame = await self.receive(timeout=3600)
                if frame.get("type") == "command":
                    self.commands.append(frame)
                    await self.answer(frame, RESULTS[frame["name"]])

    @property
    def connected(self) -> bool:
        return self._answering is not None and not self._answering.done()

    async def disconnect(self) -> None:
        self._answering.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebsocketDisconnectError):
            await self._answering
        await self.__aexit__(None, None, None)


@dataclass
class RouteWorld:
    app: object
    home: TenantWorld  # the tenant whose users ask (staff and viewer limited to shop A)
    other: TenantWorld  # the tenant next door, whose objects must stay out of reach
    superadmin: User
    shop_limited: User  # staff of the home tenant limited to shop B
    must_change: User  # an admin of the home tenant who has not chosen a password yet
    door: int = 0  # the home tenant's connected door, in shop A
    other_door: int = 0  # the other tenant's connected door
    devices: dict[int, AnsweringDevice] = field(default_factory=dict)
    clients: dict[str, ApiClient] = field(default_factory=dict)
    _names: itertools.count = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self._names)}"

    def user_of(self, role: str) -> User | None:
        return {
            "superadmin": self.superadmin,
            "admin": self.home.admin,
            "staff": self.home.staff,
            "viewer": self.home.viewer,
            "shop_limited": self.shop_limited,
            "must_change": self.must_change,
        }.get(role)

    async def login(self, user: User | None) -> ApiClient:
        client = ApiClient(self.app.test_client())
        if user is not None:
            response = await client.login(user.username)
            assert response.status_code == 200, await response.get_data()
        return client

    async def throwaway(self, role: str) -> tuple[ApiClient, User]:
        """A new user of `role` (staff for "anonymous") and a client: logged in, unless anonymous.
        For calls that end or replace the session they are made with."""
        limited = {"staff": [self.home.shop_a.id], "viewer": [self.home.shop_a.id]}
        if role == "superadmin":
            user = await make_user(self.unique("operator"), "superadmin")
        elif role == "must_change":
            user = await make_user(self.unique("new"), "admin", self.home.tenant, must_change=True)
        else:
            real = {"shop_limited": "staff", "anonymous": "staff"}.get(role, role)
            shops = [self.home.shop_b.id] if role == "shop_limited" else limited.get(real, [])
            user = await make_user(self.unique(real), real, self.home.tenant, shops)
        return await self.login(None if role == "anonymous" else user), user

    async def target_user(self, world: TenantWorld | None = None) -> int:
        """A new staff user: safe to change or delete."""
        world = world or self.home
        return (await make_user(self.unique("target"), "staff", world.tenant)).id

    async def loose_device(self, world: TenantWorld | None = None) -> int:
        """A registered device in shop A that no tunnel holds: safe to revoke or delete."""
        world = world or self.home
        key_id, secret, _ = new_api_key()
        device = await Device.acreate(
            tenant=world.tenant,
            shop=world.shop_a,
            name=self.unique("loose door"),
            registered=True,
            key_id=key_id,
            key_hash=token_hash(secret),
        )
        return device.id

    async def registration_token(self) -> str:
        token = "reg_" + secrets.token_urlsafe(32)
        await Device.acreate(
            tenant=self.home.tenant,
            shop=self.home.shop_a,
            name=self.unique("new door"),
            registration_token_hash=token_hash(token),
            registration_expires_at=utcnow() + timedelta(hours=1),
        )
        return token

    async def connected_door(self, world: TenantWorld) -> int:
        key_id, secret, api_key = new_api_key()
        device = await Device.acreate(
            tenant=world.tenant,
            shop=world.shop_a,
            name=self.unique(f"{world.tenant.name} door"),
            registered=True,
            key_id=key_id,
            key_hash=token_hash(secret),
        )
        self.devices[device.id] = await AnsweringDevice(self.app, api_key).connect()
        return device.id


def world_settings(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'routes.db'}",
        secret_key="route-matrix-secret-key-0123456789",
        debug=True,
        bcrypt_rounds=4,
        command_timeout_s=WAIT_S,
        testing=True,
        api_limit=UNLIMITED,
        login_limit=UNLIMITED,
        login_ip_limit=UNLIMITED,
        register_limit=UNLIMITED,
    )


@contextlib.asynccontextmanager
async def route_world(tmp_path):
    """The world, serving; every tunnel is closed and the app stopped afterwards."""
    settings = world_settings(tmp_path)
    migrate_up(settings.database_url)
    app = create_app(settings)
    async with app.test_app():
        home, other = await make_tenant("Bakery"), await make_tenant("Kiosk")
        world = RouteWorld(
            app=app,
            home=home,
            other=other,
            superadmin=await make_user("operator", "superadmin"),
            shop_limited=await make_user("bakery-staff-b", "staff", home.tenant, [home.shop_b.id]),
            must_change=await make_user("bakery-new", "admin", home.tenant, must_change=True),
        )
        world.door = await world.connected_door(home)
        world.other_door = await world.connected_door(other)
        for role in ROLES:
            world.clients[role] = await world.login(world.user_of(role))
        try:
            yield world
        finally:
            for device in world.devices.values():
                await device.disconnect()


async def websocket_status(client: ApiClient, path: str) -> int:
    """The plain HTTP status a refused WebSocket upgrade answers (101 if it was accepted)."""
    async with client.client.websocket(path) as socket:
        try:
            await asyncio.wait_for(socket.receive(), WAIT_S)
        except WebsocketResponseError as refused:
            return refused.response.status_code
    return 101


async def stream_status(client: ApiClient, path: str) -> int:
    """The status of a response that may be an endless stream: read its first chunk, hang up."""
    async with client.client.request(path) as connection:
        await connection.send_complete()
        await asyncio.wait_for(connection.receive(), WAIT_S)
        await connection.disconnect()
    return connection.status_code
