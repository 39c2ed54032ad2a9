"""A row of the route matrix: how to call one route, and what each role gets; and the call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tests.support.route_world import RouteWorld, stream_status, websocket_status

Body = Callable[[RouteWorld, object], Awaitable[dict] | dict] | dict | None


@dataclass(frozen=True)
class Row:
    """How to call a route, and the status each role gets (in the order of ROLES)."""

    path: str  # {door}: the connected door; {device}: a fresh loose device; {user}: a new user
    expect: tuple[int, ...]
    json: Body = None
    form: Body = None
    own_session: bool = False  # the call ends or replaces its session: a throwaway user makes it
    how: str = "http"  # or "stream" (read the first chunk) or "websocket"
    xfail: dict[str, str] | None = None  # role → how today's code disagrees with the contract


async def _value(body: Body, world, actor):
    value = body(world, actor) if callable(body) else body
    return await value if isinstance(value, Awaitable) else value


async def send(
    world: RouteWorld, row: Row, method: str, client, actor, headers=None
) -> tuple[int, str | None]:
    """The status the row's request answers, and the error code when it is a JSON error."""
    targets = {"door": world.door}
    if "{device}" in row.path:
        targets["device"] = await world.loose_device()
    if "{user}" in row.path:
        targets["user"] = await world.target_user()
    path = row.path.format(**targets)
    if row.how == "websocket":
        return await websocket_status(client, path), None
    if row.how == "stream":
        return await stream_status(client, path), None
    kwargs = {"headers": headers} if headers else {}
    if row.json is not None:
        kwargs["json"] = await _value(row.json, world, actor)
    if row.form is not None:
        kwargs["form"] = {
            key: str(value) for key, value in (await _value(row.form, world, actor)).items()
        }
    response = await getattr(client, method.lower())(path, **kwargs)
    body = await response.get_json() if response.mimetype == "application/json" else None
    code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
    return response.status_code, code
