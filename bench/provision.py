"""Provisioning through the real API (httpx): shops, devices, registration, staff and viewers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import httpx

from .server import ADMIN, PASSWORD

COOKIE = "sentra_session"
DEVICES_PER_SHOP = 100
CONCURRENCY = 8
ATTEMPTS = 6
NEW_PASSWORD = "bench-changed-password-42"


class ProvisionError(Exception):
    pass


@dataclass
class UserSession:
    username: str
    cookie: str
    csrf: str

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.cookie}", "X-CSRF-Token": self.csrf}


@dataclass
class DeviceKey:
    device_id: int
    api_key: str


@dataclass
class World:
    admin: UserSession
    fleet: list[DeviceKey] = field(default_factory=list)
    specials: dict[str, DeviceKey] = field(default_factory=dict)
    staff: list[UserSession] = field(default_factory=list)
    viewers: list[UserSession] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)  # "429 /api/users" → count
    failed: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        if COOKIE in jar:
            return jar[COOKIE].value
    return None


def _route(path: str) -> str:
    """`/api/devices/12/status` → `/api/devices`: counts by route, not by id."""
    return "/".join(path.split("/")[:3])


def _retry_after(response: httpx.Response) -> float:
    """Seconds the server asked us to wait (1 when it did not say), at most 10."""
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 10.0)
    except ValueError:
        return 1.0


def _describe(response: httpx.Response | None) -> str:
    if response is None:
        return "no response"
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = response.text[:60]
    return f"{response.status_code} {code}"


class Api:
    """httpx with the session cookie sent by hand (it is `Secure`; we speak plain HTTP)."""

    def __init__(self, base_url: str, world_refused: Counter):
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.refused = world_refused
        self.gate = asyncio.Semaphore(CONCURRENCY)

    async def call(self, method, path, session=None, json=None, ok=(200, 201, 204)):
        """One call, waiting out 429/503 answers (counted) before giving up."""
        headers = session.headers() if session else {}
        response = None
        for _ in range(ATTEMPTS):
            try:
                async with self.gate:
                    response = await self.http.request(method, path, json=json, headers=headers)
            except httpx.TransportError as error:  # e.g. a keep-alive connection retired
                self.refused[f"{type(error).__name__} {_route(path)}"] += 1
                continue
            self.http.cookies.clear()
            if response.status_code in ok:
                return response
            if response.status_code not in (429, 503):
                break
            self.refused[f"{response.status_code} {_route(path)}"] += 1
            await asyncio.sleep(_retry_after(response))
        raise ProvisionError(f"{method} {_route(path)}: {_describe(response)}")

    async def login(self, username: str, password: str) -> UserSession:
        response = await self.call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        cookie = _session_cookie(response)
        if cookie is None:
            raise ProvisionError(f"login of {username} set no {COOKIE} cookie")
        return UserSession(username, cookie, response.json()["csrf_token"])

    async def close(self) -> None:
        await self.http.aclose()


async def _shop(api: Api, admin: UserSession, name: str) -> int:
    response = await api.call("POST", "/api/shops", admin, {"name": name})
    return response.json()["shop"]["id"]


async def _device(api: Api, admin: UserSession, shop_id: int, name: str) -> DeviceKey:
    created = await api.call(
        "POST", "/api/devices/create", admin, {"name": name, "shop_id": shop_id}
    )
    token = created.json()["registration_token"]
    registered = await api.call(
        "POST", "/api/devices/register", json={"token": token, "agent_version": "bench"}
    )
    body = registered.json()
    return DeviceKey(body["device_id"], body["api_key"])


async def _user(api: Api, admin: UserSession, name: str, role: str, shops: list[int]):
    """Create a user, log in, and change the first password as the contract requires."""
    body = {"username": name, "password": PASSWORD, "role": role, "shop_ids": shops}
    await api.call("POST", "/api/users", admin, body, ok=(201, 409))  # 409: a retried create
    session = await api.login(name, PASSWORD)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = await api.call("POST", "/auth/password", session, change)
    # A password change gives the browser a new session id; the old cookie is dead.
    session.cookie = _session_cookie(changed) or session.cookie
    return session


async def _gather(world: World, kind: str, coroutines) -> list:
    """Run them all; failures are counted by kind and left out."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    good = []
    for result in results:
        if isinstance(result, BaseException):
            world.failed[f"{kind}: {str(result)[:120]}"] += 1
        else:
            good.append(result)
    return good


async def _shops(api: Api, world: World, devices: int) -> tuple[list[int], int, int]:
    """Fleet shops of DEVICES_PER_SHOP devices, plus the "Live" and "Flood" shops."""
    count = max(1, -(-devices // DEVICES_PER_SHOP))
    shops = await _gather(
        world, "shop", [_shop(api, world.admin, f"Shop {i}") for i in range(count)]
    )
    if not shops:
        raise ProvisionError("no shop could be created: " + ", ".join(world.failed))
    return shops, await _shop(api, world.admin, "Live"), await _shop(api, world.admin, "Flood")


async def provision(base_url: str, devices: int, staff: int, viewers: int) -> World:
    """A tenant with `devices` fleet devices, the live and flood devices, staff and viewers."""
    began, refused = time.monotonic(), Counter()
    api = Api(base_url, refused)
    try:
        world = World(admin=await api.login(ADMIN, PASSWORD), refused=refused)
        admin = world.admin
        shops, live_shop, flood_shop = await _shops(api, world, devices)
        world.specials["live"] = await _device(api, admin, live_shop, "live-door")
        world.specials["flood"] = await _device(api, admin, flood_shop, "flood-door")
        fleet = [_device(api, admin, shops[i % len(shops)], f"door-{i}") for i in range(devices)]
        world.fleet = await _gather(world, "device", fleet)
        people = [_user(api, admin, f"staff{i}", "staff", []) for i in range(staff)]
        world.staff = await _gather(world, "staff", people)
        people = [_user(api, admin, f"viewer{i}", "viewer", [live_shop]) for i in range(viewers)]
        world.viewers = await _gather(world, "viewer", people)
    finally:
        await api.close()
    if not (world.fleet and world.staff and world.viewers):
        raise ProvisionError("no devices, staff or viewers: " + ", ".join(world.failed)[:300])
    world.seconds = time.monotonic() - began
    return world
