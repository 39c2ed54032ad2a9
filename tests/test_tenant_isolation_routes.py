"""Another tenant's objects are absent, through every route that takes an id.

Users of the home tenant ask for the other tenant's door, user, shop or tenant. The answer is
the one a missing id gets (404 for an admin); nothing of the other tenant changes or shows in
the answer; its connected door hears no command. Every route of the URL map with an id in its
path needs a case, so a new one without a case fails `test_every_id_route_has_a_case`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import pytest_asyncio

from sentra_tunnel.db import database
from sentra_tunnel.models.device import Device
from sentra_tunnel.models.tenant import Shop, Tenant
from sentra_tunnel.models.user import User
from tests.support.route_world import RouteWorld, route_world, stream_status

pytestmark = pytest.mark.asyncio(loop_scope="module")

ABSENT = 999_999_999  # ids are never reused, and none grows this far in a test
ASKING = ("admin", "staff", "viewer")  # the home tenant's users
# What a path argument names; a route with a new kind of id needs a line here and a case.
ARGUMENT_KINDS = {"device_id": "door", "door_id": "door", "user_id": "user"}
NEW_PASSWORD = "a much longer secret 42"


@dataclass(frozen=True)
class Case:
    """A request that names another tenant's object: `{id}` goes into the path, query or body."""

    path: str
    kind: str  # door, user, shop or tenant: which of the other tenant's objects it names
    json: dict | None = None
    form: dict | None = None
    stream: bool = False
    admin_status: int = 404  # what the home tenant's admin gets, for the object and a missing id


# Every route with an id in its path: the id is the other tenant's.
PATH_CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/devices/<int:device_id>/status"): Case("/api/devices/{id}/status", "door"),
    ("POST", "/api/devices/<int:device_id>/reprovision"): Case(
        "/api/devices/{id}/reprovision", "door"
    ),
    ("POST", "/api/devices/<int:device_id>/revoke"): Case("/api/devices/{id}/revoke", "door"),
    ("DELETE", "/api/devices/<int:device_id>"): Case("/api/devices/{id}", "door"),
    ("POST", "/api/commands/<int:device_id>/open"): Case(
        "/api/commands/{id}/open", "door", json={"duration_s": 3}
    ),
    ("POST", "/api/commands/<int:device_id>/status"): Case("/api/commands/{id}/status", "door"),
    ("GET", "/api/commands/<int:device_id>/config"): Case("/api/commands/{id}/config", "door"),
    ("POST", "/api/commands/<int:device_id>/config"): Case(
        "/api/commands/{id}/config", "door", json={"open_duration_s": 5}
    ),
    ("POST", "/api/commands/<int:device_id>/override"): Case(
        "/api/commands/{id}/override", "door", json={"mode": "open"}
    ),
    ("GET", "/api/users/<int:user_id>"): Case("/api/users/{id}", "user"),
    ("PATCH", "/api/users/<int:user_id>"): Case(
        "/api/users/{id}", "user", json={"role": "viewer", "disabled": True}
    ),
    ("DELETE", "/api/users/<int:user_id>"): Case("/api/users/{id}", "user"),
    ("GET", "/doors/<int:door_id>"): Case("/doors/{id}", "door"),
    ("POST", "/doors/<int:door_id>/open"): Case("/doors/{id}/open", "door"),
    ("POST", "/doors/<int:door_id>/override"): Case(
        "/doors/{id}/override", "door", form={"mode": "open", "end": "forever"}
    ),
    ("GET", "/doors/<int:door_id>/config"): Case("/doors/{id}/config", "door"),
    ("POST", "/doors/<int:door_id>/config"): Case(
        "/doors/{id}/config",
        "door",
        form={"open_duration_s": "5", "timezone": "Europe/Berlin", "rows": "0"},
    ),
    ("POST", "/devices/<int:device_id>/reprovision"): Case("/devices/{id}/reprovision", "door"),
    ("POST", "/devices/<int:device_id>/revoke"): Case("/devices/{id}/revoke", "door"),
    ("POST", "/devices/<int:device_id>/delete"): Case("/devices/{id}/delete", "door"),
    ("POST", "/users/<int:user_id>"): Case(
        "/users/{id}", "user", form={"role": "viewer", "disabled": "on", "password": NEW_PASSWORD}
    ),
    ("POST", "/users/<int:user_id>/delete"): Case("/users/{id}/delete", "user"),
}

# Ids in query strings and bodies. A foreign shop in `shop_ids` is an unknown shop (422) and a
# foreign `tenant_id` is refused (403), exactly as for a shop or tenant that does not exist.
OTHER_CASES: dict[str, Case] = {
    "audit filter": Case("/api/audit?device_id={id}", "door"),
    "audit export filter": Case("/api/audit/export.csv?device_id={id}", "door"),
    "audit page filter": Case("/audit?device_id={id}", "door"),
    "one door's stream": Case("/events?door={id}", "door", stream=True),
    "device in a shop": Case(
        "/api/devices/create", "shop", json={"name": "Intruder door", "shop_id": "{id}"}
    ),
    "device form in a shop": Case(
        "/devices", "shop", form={"name": "Intruder door", "shop_id": "{id}"}
    ),
    "user of a tenant": Case(
        "/api/users",
        "tenant",
        json={
            "username": "intruder",
            "password": NEW_PASSWORD,
            "role": "staff",
            "tenant_id": "{id}",
        },
        admin_status=403,
    ),
    "user form of a tenant": Case(
        "/users",
        "tenant",
        form={
            "username": "intruder",
            "password": NEW_PASSWORD,
            "role": "staff",
            "tenant_id": "{id}",
        },
        admin_status=403,
    ),
    "user in a shop": Case(
        "/api/users",
        "shop",
        json={
            "username": "intruder",
            "password": NEW_PASSWORD,
            "role": "staff",
            "shop_ids": ["{id}"],
        },
        admin_status=422,
    ),
    "user form in a shop": Case(
        "/users",
        "shop",
        form={
            "username": "intruder",
            "password": NEW_PASSWORD,
            "role": "staff",
            "shop_ids": "{id}",
        },
        admin_status=422,
    ),
    "shop of a tenant": Case(
        "/api/shops", "tenant", json={"name": "Outpost", "tenant_id": "{id}"}, admin_status=403
    ),
    "shop form of a tenant": Case(
        "/shops", "tenant", form={"name": "Outpost", "tenant_id": "{id}"}, admin_status=403
    ),
}


@dataclass
class Isolation:
    world: RouteWorld
    foreign: dict[str, int]  # kind → the other tenant's object of that kind
    baseline: tuple


async def other_tenant_as_stored(world: RouteWorld) -> tuple:
    """Everything of the other tenant that a leak could change, and how many rows exist."""
    tenant = world.other.tenant.id
    devices = await database.list(
        Device.select().where(Device.tenant == tenant).order_by(Device.id)
    )
    users = await database.list(User.select().where(User.tenant == tenant).order_by(User.id))
    return (
        [(d.id, d.name, d.shop_id, d.registered, d.key_id, d.key_hash) for d in devices],
        [(u.to_dict(), u.password_hash) for u in users],
        [await database.count(model.select()) for model in (Tenant, Shop, User, Device)],
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def isolation(tmp_path_factory):
    async with route_world(tmp_path_factory.mktemp("isolation")) as world:
        foreign = {
            "door": world.other_door,
            "user": world.other.staff.id,
            "shop": world.other.shop_a.id,
            "tenant": world.other.tenant.id,
        }
        yield Isolation(world, foreign, await other_tenant_as_stored(world))


def id_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.arguments and rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


async def test_every_id_route_has_a_case(isolation):
    routes = id_routes(isolation.world.app)
    assert sorted(routes - set(PATH_CASES)) == [], "id routes without a case"
    assert sorted(set(PATH_CASES) - routes) == [], "cases without a route"
    arguments = {arg for rule in isolation.world.app.url_map.iter_rules() for arg in rule.arguments}
    assert arguments - {"filename"} <= set(ARGUMENT_KINDS), "an id of a new kind"


def filled(value, object_id: int):
    if isinstance(value, dict):
        return {key: filled(item, object_id) for key, item in value.items()}
    if isinstance(value, list):
        return [filled(item, object_id) for item in value]
    return object_id if value == "{id}" else value


async def answer(client, method: str, case: Case, object_id: int) -> tuple[int, str]:
    """(status, body) of the case with `object_id` in it; in a JSON body the id reads `{id}`."""
    path = case.path.format(id=object_id)
    if case.stream:
        return await stream_status(client, path), ""
    kwargs = {}
    if case.json is not None:
        kwargs["json"] = filled(case.json, object_id)
    if case.form is not None:
        kwargs["form"] = {key: str(value) for key, value in filled(case.form, object_id).items()}
    response = await getattr(client, method.lower())(path, **kwargs)
    if response.mimetype == "application/json":
        body = json.dumps(await response.get_json(), sort_keys=True)
        return response.status_code, body.replace(str(object_id), "{id}")
    return response.status_code, await response.get_data(as_text=True)


async def check_absent(isolation: Isolation, method: str, case: Case, role: str) -> None:
    world = isolation.world
    other_door = world.devices[world.other_door]
    heard = len(other_door.commands)
    client = world.clients[role]
    foreign = await answer(client, method, case, isolation.foreign[case.kind])
    absent = await answer(client, method, case, ABSENT)
    if role == "admin":
        assert foreign[0] == case.admin_status, foreign
    assert foreign[0] == absent[0]
    if foreign[1].startswith("{"):  # JSON; a page may echo the form it was sent
        assert foreign[1] == absent[1]
    assert "kiosk" not in foreign[1].lower(), "the other tenant shows in the answer"
    assert len(other_door.commands) == heard, "the other tenant's door heard a command"
    assert other_door.connected
    assert await other_tenant_as_stored(world) == isolation.baseline


@pytest.mark.parametrize("role", ASKING)
@pytest.mark.parametrize(
    ("method", "rule"), list(PATH_CASES), ids=[" ".join(c) for c in PATH_CASES]
)
async def test_another_tenants_id_is_absent(isolation, method, rule, role):
    await check_absent(isolation, method, PATH_CASES[(method, rule)], role)


@pytest.mark.parametrize("role", ASKING)
@pytest.mark.parametrize("name", list(OTHER_CASES))
async def test_another_tenants_id_in_a_query_or_body_is_absent(isolation, name, role):
    case = OTHER_CASES[name]
    method = "POST" if case.json is not None or case.form is not None else "GET"
    await check_absent(isolation, method, case, role)


async def test_the_other_door_would_hear_a_command(isolation):
    """The check can fail: the platform operator's command reaches the other tenant's door."""
    world = isolation.world
    other_door = world.devices[world.other_door]
    heard = len(other_door.commands)
    response = await world.clients["superadmin"].post(f"/api/commands/{world.other_door}/status")
    assert response.status_code == 200, await response.get_json()
    assert len(other_door.commands) == heard + 1


async def test_the_other_tenants_objects_exist_for_their_own_admin(isolation):
    """The cases name real objects: the other tenant's admin reaches each of them."""
    world = isolation.world
    own = await world.login(world.other.admin)
    foreign = isolation.foreign
    assert (await own.get(f"/api/devices/{foreign['door']}/status")).status_code == 200
    assert (await own.get(f"/api/users/{foreign['user']}")).status_code == 200
    shops = (await (await own.get("/api/shops")).get_json())["shops"]
    assert {shop["id"] for shop in shops} >= {foreign["shop"]}
    assert world.other.admin.tenant_id == foreign["tenant"]
