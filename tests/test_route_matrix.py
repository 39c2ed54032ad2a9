"""Who gets what: one row per route of the URL map, one expected status per role.

Statuses are the contract's (roles: admin manages users, shops, devices, config and audit;
staff open, ask status and override; viewer reads; a pending password change holds a user at
the password page). Staff and viewer are limited to shop A, where the door is; `shop_limited`
is staff limited to shop B asking for that door. A new route without a row fails
`test_every_route_has_a_row`; where the code disagrees with the contract, the row keeps the
contract's status and names the role in `xfail`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytest_asyncio

from tests.support.api import PASSWORD
from tests.support.route_calls import Row, send
from tests.support.route_world import ROLES, RouteWorld, route_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

NEW_PASSWORD = "a much longer secret 42"
# Not a view of ours: Quart serves the files, the browser caches them.
UNCHECKED = {"static"}

# Statuses in the order of ROLES:
#   superadmin, admin, staff, viewer, shop_limited, must_change, anonymous
ADMIN = (200, 200, 403, 403, 403, 403, 401)
ADMIN_CREATES = (201, 201, 403, 403, 403, 403, 401)
ADMIN_DELETES = (204, 204, 403, 403, 403, 403, 401)
SUPERADMIN = (200, 403, 403, 403, 403, 403, 401)
ANY_ROLE = (200, 200, 200, 200, 200, 403, 401)
EVERYONE = (200,) * 7
# on the door in shop A: staff limited to shop B do not see it
DOOR_VIEWER = (200, 200, 200, 200, 404, 403, 401)
DOOR_STAFF = (200, 200, 200, 403, 404, 403, 401)
DOOR_ADMIN = (200, 200, 403, 403, 404, 403, 401)
# portal pages: a pending password change and a visitor are sent to their page
PAGE_ADMIN = (200, 200, 403, 403, 403, 303, 303)
PAGE_ADMIN_CREATES = (201, 201, 403, 403, 403, 303, 303)
PAGE_SUPERADMIN = (200, 403, 403, 403, 403, 303, 303)
PAGE_ANY_ROLE = (200, 200, 200, 200, 200, 303, 303)
PAGE_DOOR_VIEWER = (200, 200, 200, 200, 404, 303, 303)
PAGE_DOOR_STAFF = (200, 200, 200, 403, 404, 303, 303)


def new_user(world, actor) -> dict:
    return {
        "username": world.unique("fresh"),
        "password": NEW_PASSWORD,
        "role": "viewer",
        "tenant_id": world.home.tenant.id,
    }


def credentials(world, actor) -> dict:
    return {"username": actor.username, "password": PASSWORD}


def password_change(world, actor) -> dict:
    return {"current_password": PASSWORD, "new_password": NEW_PASSWORD}


def portal_password_change(world, actor) -> dict:
    return {**password_change(world, actor), "new_password_repeat": NEW_PASSWORD}


async def registration(world, actor) -> dict:
    return {"token": await world.registration_token()}


def named(prefix: str, **more) -> Callable:
    def body(world, actor) -> dict:
        values = {"name": world.unique(prefix), **more}
        return {key: value(world) if callable(value) else value for key, value in values.items()}

    return body


def home_tenant(world) -> int:
    return world.home.tenant.id


def shop_a(world) -> int:
    return world.home.shop_a.id


DOOR_CONFIG_FORM = {"open_duration_s": "5", "timezone": "Europe/Berlin", "rows": "0"}

ROWS: dict[tuple[str, str], Row] = {
    # the API: tenants, shops, users, audit
    ("GET", "/api/tenants"): Row("/api/tenants", SUPERADMIN),
    ("POST", "/api/tenants"): Row(
        "/api/tenants", (201, 403, 403, 403, 403, 403, 401), json=named("Tenant")
    ),
    ("GET", "/api/shops"): Row("/api/shops", ADMIN),
    ("POST", "/api/shops"): Row(
        "/api/shops", ADMIN_CREATES, json=named("Shop", tenant_id=home_tenant)
    ),
    ("GET", "/api/users"): Row("/api/users", ADMIN),
    ("POST", "/api/users"): Row("/api/users", ADMIN_CREATES, json=new_user),
    ("GET", "/api/users/<int:user_id>"): Row("/api/users/{user}", ADMIN),
    ("PATCH", "/api/users/<int:user_id>"): Row("/api/users/{user}", ADMIN, json={"role": "viewer"}),
    ("DELETE", "/api/users/<int:user_id>"): Row("/api/users/{user}", ADMIN_DELETES),
    ("GET", "/api/audit"): Row("/api/audit", ADMIN),
    ("GET", "/api/audit/export.csv"): Row("/api/audit/export.csv", ADMIN),
    # the API: devices ({device} is a fresh one in shop A that no tunnel holds)
    ("GET", "/api/devices"): Row("/api/devices", ANY_ROLE),
    ("POST", "/api/devices/create"): Row(
        "/api/devices/create", ADMIN_CREATES, json=named("Door", shop_id=shop_a)
    ),
    # the Pi needs no session; a session with a pending password change is held at /api/*
    ("POST", "/api/devices/register"): Row(
        "/api/devices/register", (201, 201, 201, 201, 201, 403, 201), json=registration
    ),
    ("GET", "/api/devices/<int:device_id>/status"): Row(
        "/api/devices/{device}/status", DOOR_VIEWER
    ),
    ("POST", "/api/devices/<int:device_id>/reprovision"): Row(
        "/api/devices/{device}/reprovision", (201, 201, 403, 403, 404, 403, 401)
    ),
    ("POST", "/api/devices/<int:device_id>/revoke"): Row(
        "/api/devices/{device}/revoke", (204, 204, 403, 403, 404, 403, 401)
    ),
    ("DELETE", "/api/devices/<int:device_id>"): Row(
        "/api/devices/{device}", (204, 204, 403, 403, 404, 403, 401)
    ),
    # the API: door commands, answered by the connected door
    ("POST", "/api/commands/<int:device_id>/open"): Row(
        "/api/commands/{door}/open", DOOR_STAFF, json={"duration_s": 3}
    ),
    ("POST", "/api/commands/<int:device_id>/status"): Row(
        "/api/commands/{door}/status", DOOR_VIEWER
    ),
    ("GET", "/api/commands/<int:device_id>/config"): Row(
        "/api/commands/{door}/config", DOOR_VIEWER
    ),
    ("POST", "/api/commands/<int:device_id>/config"): Row(
        "/api/commands/{door}/config", DOOR_ADMIN, json={"open_duration_s": 5}
    ),
    ("POST", "/api/commands/<int:device_id>/override"): Row(
        "/api/commands/{door}/override", DOOR_STAFF, json={"mode": "auto"}
    ),
    # sessions: reachable while a password change is pending
    ("POST", "/auth/login"): Row("/auth/login", EVERYONE, json=credentials, own_session=True),
    ("POST", "/auth/logout"): Row("/auth/logout", (204,) * 7, own_session=True),
    ("GET", "/auth/me"): Row("/auth/me", (200,) * 6 + (401,)),
    ("POST", "/auth/password"): Row(
        "/auth/password", (204,) * 6 + (401,), json=password_change, own_session=True
    ),
    # the tunnel: a device key opens it, never a session
    ("GET", "/ws"): Row("/ws", (401,) * 7, how="websocket"),
    # the API's description: open with DEBUG, as this app runs (tests/test_api_docs.py: login)
    ("GET", "/openapi.json"): Row("/openapi.json", EVERYONE),
    ("GET", "/docs"): Row("/docs", EVERYONE),
    # the portal
    ("GET", "/login"): Row("/login", (303,) * 6 + (200,)),
    ("POST", "/login"): Row("/login", (303,) * 7, form=credentials, own_session=True),
    ("POST", "/logout"): Row("/logout", (303,) * 7, own_session=True),
    ("GET", "/password"): Row("/password", (200,) * 6 + (303,)),
    # saved: the page again; after a forced change, on to the doors
    ("POST", "/password"): Row(
        "/password", PAGE_ANY_ROLE, form=portal_password_change, own_session=True
    ),
    ("GET", "/manifest.webmanifest"): Row("/manifest.webmanifest", EVERYONE),
    ("GET", "/"): Row("/", PAGE_ANY_ROLE),
    # a stream answers a visitor 401, not the login page: a reconnecting browser backs off
    ("GET", "/events"): Row("/events", (200,) * 5 + (303, 401), how="stream"),
    ("GET", "/account"): Row("/account", PAGE_ANY_ROLE),
    ("POST", "/account/language"): Row("/account/language", PAGE_ANY_ROLE, form={"language": ""}),
    ("GET", "/doors/<int:door_id>"): Row("/doors/{door}", PAGE_DOOR_VIEWER),
    ("POST", "/doors/<int:door_id>/open"): Row("/doors/{door}/open", PAGE_DOOR_STAFF),
    ("POST", "/doors/<int:door_id>/override"): Row(
        "/doors/{door}/override", PAGE_DOOR_STAFF, form={"mode": "auto"}
    ),
    # admin pages ask for the role before they look the door up: 403 whatever the id
    ("GET", "/doors/<int:door_id>/config"): Row("/doors/{door}/config", PAGE_ADMIN),
    ("POST", "/doors/<int:door_id>/config"): Row(
        "/doors/{door}/config", PAGE_ADMIN, form=DOOR_CONFIG_FORM
    ),
    ("GET", "/devices"): Row("/devices", PAGE_ADMIN),
    ("POST", "/devices"): Row("/devices", PAGE_ADMIN_CREATES, form=named("Door", shop_id=shop_a)),
    ("POST", "/devices/<int:device_id>/reprovision"): Row(
        "/devices/{device}/reprovision", PAGE_ADMIN
    ),
    ("POST", "/devices/<int:device_id>/revoke"): Row("/devices/{device}/revoke", PAGE_ADMIN),
    ("POST", "/devices/<int:device_id>/delete"): Row("/devices/{device}/delete", PAGE_ADMIN),
    ("GET", "/users"): Row("/users", PAGE_ADMIN),
    ("POST", "/users"): Row("/users", PAGE_ADMIN_CREATES, form=new_user),
    ("POST", "/users/<int:user_id>"): Row("/users/{user}", PAGE_ADMIN, form={"role": "viewer"}),
    ("POST", "/users/<int:user_id>/delete"): Row("/users/{user}/delete", PAGE_ADMIN),
    ("GET", "/shops"): Row("/shops", PAGE_ADMIN),
    ("POST", "/shops"): Row(
        "/shops", PAGE_ADMIN_CREATES, form=named("Shop", tenant_id=home_tenant)
    ),
    ("GET", "/tenants"): Row("/tenants", PAGE_SUPERADMIN),
    ("POST", "/tenants"): Row(
        "/tenants", (201, 403, 403, 403, 403, 303, 303), form=named("Tenant")
    ),
    ("GET", "/audit"): Row("/audit", PAGE_ADMIN),
}


def url_map_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNCHECKED
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with route_world(tmp_path_factory.mktemp("matrix")) as built:
        yield built


async def test_every_route_has_a_row(world):
    assert sorted(url_map_routes(world.app) - set(ROWS)) == [], "routes without a row"
    assert sorted(set(ROWS) - url_map_routes(world.app)) == [], "rows without a route"


async def call(world: RouteWorld, row: Row, method: str, role: str) -> tuple[int, str | None]:
    """The status the route answers this role, and the error code when it is a JSON error."""
    if row.own_session:
        client, actor = await world.throwaway(role)
    else:
        client, actor = world.clients[role], world.user_of(role)
    return await send(world, row, method, client, actor)


def expected_code(status: int, role: str) -> str | None:
    if status == 403 and role == "must_change":
        return "password_change_required"
    return {401: "not_authenticated", 403: "forbidden", 404: "not_found"}.get(status)


def marks_for(row: Row, role: str) -> list:
    reason = (row.xfail or {}).get(role)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def cases() -> list:
    return [
        pytest.param(
            method, rule, role, status, id=f"{method} {rule} {role}", marks=marks_for(row, role)
        )
        for (method, rule), row in ROWS.items()
        for role, status in zip(ROLES, row.expect, strict=True)
    ]


@pytest.mark.parametrize(("method", "rule", "role", "status"), cases())
async def test_each_role_gets_its_status(world, method, rule, role, status):
    answered, code = await call(world, ROWS[(method, rule)], method, role)
    assert answered == status
    if code is not None:  # a JSON error: the contract's code for its status
        assert code == expected_code(status, role)


UNSAFE = [route for route in ROWS if route[0] in ("POST", "PUT", "PATCH", "DELETE")]
# Before a session exists there is no token to send: a login and a Pi's registration.
WITHOUT_TOKEN = {("POST", "/auth/login"), ("POST", "/login"), ("POST", "/api/devices/register")}


def refused_as_cross_site(answer: tuple[int, str | None]) -> bool:
    status, code = answer
    return status == 403 and code in ("csrf_failed", None)  # None: the portal's error page


@pytest.mark.parametrize(("method", "rule"), UNSAFE, ids=[" ".join(route) for route in UNSAFE])
async def test_every_unsafe_route_wants_the_csrf_token_and_this_site(world, method, rule):
    """The platform operator passes every role check, so only these checks can refuse."""
    row = ROWS[(method, rule)]
    if (method, rule) not in WITHOUT_TOKEN:
        client, actor = await world.throwaway("superadmin")
        client.csrf_token = ""
        assert refused_as_cross_site(await send(world, row, method, client, actor))
    client, actor = await world.throwaway("superadmin")
    cross_site = {"Origin": "https://evil.example"}
    assert refused_as_cross_site(await send(world, row, method, client, actor, cross_site))
