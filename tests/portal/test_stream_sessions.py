"""Live streams live no longer than their session: ending a session or changing a user ends or
re-scopes that user's open streams at once, and no one else's."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models.base import utcnow
from sentra_tunnel.models.user import Session, session_cache
from sentra_tunnel.portal import stream
from sentra_tunnel.tunnel.broker import device_event
from tests.portal.conftest import make_device
from tests.support.api import PASSWORD

# Far below the stream's own 15 s re-check, so only an immediate end or re-scope passes.
WAIT_S = 3.0


class OpenStream:
    """`GET /events` through the app, read message by message as htmx reads it."""

    def __init__(self, portal, path: str = "/events"):
        self.request = portal.client.request(path)
        self.buffer = ""

    async def open(self) -> str:
        """Connect; returns the first state message (after the `retry:` line)."""
        self.connection = await self.request.__aenter__()
        await self.connection.send_complete()
        assert (await self.next()).startswith("retry: ")
        return await self.next()

    async def next(self, timeout: float = WAIT_S) -> str | None:
        """The next SSE message, keepalives included; None once the server ended the stream."""
        while "\n\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.connection.receive(), timeout)
            if not chunk:
                return None
            self.buffer += chunk.decode()
        message, self.buffer = self.buffer.split("\n\n", 1)
        return message

    async def ended(self) -> bool:
        """True when the server ends the stream within WAIT_S. On the way it may send the state
        again (narrowed by a change saved just before the session ended), and nothing else."""
        while (message := await self.next()) is not None:
            if 'hx-target="#doors"' not in message:
                return False
        return True

    async def close(self) -> None:
        await self.connection.disconnect()
        await self.request.__aexit__(None, None, None)


async def open_streams(portal, count: int = 1, path: str = "/events") -> list[OpenStream]:
    streams = [OpenStream(portal, path) for _ in range(count)]
    for opened in streams:
        await opened.open()
    return streams


async def publish(app, device) -> dict:
    event = device_event(device)
    await app.extensions["broker"].publish(event)
    return event


async def test_logout_ends_that_sessions_streams_at_once(app, portal_as, tenant, tenant_door):
    phone = await portal_as(tenant.staff)
    tablet = await portal_as(tenant.staff)  # the same user, another session
    phone_streams = await open_streams(phone, 3)
    [tablet_stream] = await open_streams(tablet)
    assert (await phone.post("/logout", htmx=False)).status_code == 303
    assert [await s.ended() for s in phone_streams] == [True] * 3
    await publish(app, tenant_door)
    assert f"door-{tenant_door.id}-status" in await tablet_stream.next()
    await tablet_stream.close()


async def test_a_stream_without_a_session_answers_401_so_the_browser_backs_off(portal_as, tenant):
    """A redirect to the login page would be followed by fetch and read as an empty stream."""
    phone = await portal_as(tenant.staff)
    [opened] = await open_streams(phone)
    assert (await phone.post("/logout", htmx=False)).status_code == 303
    assert await opened.ended()
    reconnect = await phone.get("/events")
    assert reconnect.status_code == 401
    assert "text/event-stream" not in reconnect.headers["Content-Type"]


@pytest.mark.parametrize(
    "change",
    [
        lambda world: {"disabled": True},
        lambda world: {"shop_ids": [world.shop_b.id]},
        lambda world: {"role": "viewer"},
        lambda world: {"password": "a reset by the admin 42"},
    ],
    ids=["disabled", "shops", "role", "password reset"],
)
async def test_an_admins_change_ends_that_users_streams_only(
    app, portal_as, login_as, tenant, tenant_door, change
):
    staff_streams = await open_streams(await portal_as(tenant.staff), 2)
    [viewer_stream] = await open_streams(await portal_as(tenant.viewer))
    admin = await login_as(tenant.admin)
    response = await admin.patch(f"/api/users/{tenant.staff.id}", json=change(tenant))
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert [await s.ended() for s in staff_streams] == [True, True]
    await publish(app, tenant_door)
    # Another user's change is not theirs: no state again, just the door.
    assert f'hx-target="#door-{tenant_door.id}-status"' in await viewer_stream.next()
    await viewer_stream.close()


async def test_deleting_a_user_ends_their_streams(portal_as, login_as, tenant):
    streams = await open_streams(await portal_as(tenant.staff), 2)
    admin = await login_as(tenant.admin)
    assert (await admin.delete(f"/api/users/{tenant.staff.id}")).status_code == 204
    assert [await s.ended() for s in streams] == [True, True]


async def test_own_password_change_ends_the_other_sessions_streams_and_this_browser_stays_live(
    app, portal_as, tenant, tenant_door
):
    phone = await portal_as(tenant.staff)
    [first] = await open_streams(phone)  # kept, or ended with a rotated session id: both right
    [elsewhere] = await open_streams(await portal_as(tenant.staff))
    new = "a much longer secret 42"
    form = {"current_password": PASSWORD, "new_password": new, "new_password_repeat": new}
    assert (await phone.post("/password", form)).status_code == 200
    assert await elsewhere.ended()
    [here] = await open_streams(phone)  # the page's reconnect, with the cookie it has now
    await publish(app, tenant_door)
    assert f'hx-target="#door-{tenant_door.id}-status"' in await here.next()
    await asyncio.gather(here.close(), first.close())


async def test_a_narrowed_user_gets_the_narrower_state_and_no_event_beyond_it(
    app, portal_as, tenant
):
    """A change that keeps the session (the model's one save) re-scopes the stream: the doors
    now out of sight disappear, events queued for them before the change are dropped, and the
    render of the wider view is not served again."""
    door_a = await make_device(tenant, name="Shop A door")
    door_b = await make_device(tenant, shop=tenant.shop_b, name="Shop B door")
    user = tenant.admin
    [opened] = await open_streams(await portal_as(user))
    user.role, user.shop_ids = "viewer", [tenant.shop_a.id]
    await user.asave()
    await publish(app, door_b)  # queued before the stream has re-read its user
    await publish(app, door_a)
    state = await opened.next()
    assert "Shop A door" in state and "Shop B door" not in state
    assert "data-open-button" not in state  # a viewer's render, not the admin's cached one
    assert f"door-{door_a.id}-status" in await opened.next()
    await opened.close()


async def test_a_demoted_user_is_not_served_the_cached_render_of_their_old_role(
    app, portal_as, tenant, tenant_door
):
    user = tenant.admin
    [opened] = await open_streams(await portal_as(user))  # its render of the doors is cached
    user.role, user.shop_ids = "viewer", []  # the same doors, fewer rights
    await user.asave()
    state = await opened.next()
    assert f'id="door-{tenant_door.id}"' in state and "data-open-button" not in state
    await opened.close()


async def test_a_busy_stream_still_rechecks_its_session(
    app, portal_as, tenant, tenant_door, monkeypatch
):
    """A session ended in another process sends no event here: the stream finds out by itself
    within KEEPALIVE_S, even while door events never let it fall quiet."""
    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.3)
    [busy] = await open_streams(await portal_as(tenant.staff))
    await database.run(Session.delete().where(Session.user == tenant.staff.id).execute)
    session_cache.clear()
    deadline = time.monotonic() + WAIT_S
    message = ""
    while message is not None and time.monotonic() < deadline:
        await publish(app, tenant_door)  # sent the moment the last one arrived: never quiet
        message = await busy.next()
    assert message is None, "the stream outlived its session"


async def test_a_stream_ends_when_its_session_reaches_its_lifetime(
    app, portal_as, tenant, tenant_door, monkeypatch
):
    """However busy the page, a session older than SESSION_LIFETIME ends its streams."""
    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.3)
    [busy] = await open_streams(await portal_as(tenant.staff))
    lifetime_s = app.config["SETTINGS"].session_lifetime
    born = utcnow() - timedelta(seconds=lifetime_s + 60)
    await database.run(
        Session.update(created_at=born).where(Session.user == tenant.staff.id).execute
    )
    deadline = time.monotonic() + WAIT_S
    message = ""
    while message is not None and time.monotonic() < deadline:
        await publish(app, tenant_door)
        message = await busy.next()
    assert message is None, "the stream outlived its session's lifetime"
