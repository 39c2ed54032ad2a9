"""Live streams end with their session, over a real Hypercorn and real streaming HTTP clients:
a logout ends every stream of that session at once, an admin's change ends that user's streams,
and nobody else's stream notices."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.api import PASSWORD

from .conftest import WAIT_S, LiveApi, RawDevice
from .test_capacity import EventStream

STREAMS = 50
OPEN_STATE = {"door": "open", "lock": "locked", "mode": "auto", "override_until": None}


class SessionStream(EventStream):
    """An open `GET /events` that can be awaited to its end."""

    async def end(self, timeout: float = WAIT_S) -> list[str]:
        """Wait until the server ends the stream; the data messages it sent before."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        sent = []
        while (message := self.messages.get_nowait()) is not None:
            sent.append(message)
        return sent


async def open_streams(live, api: LiveApi, count: int) -> list[SessionStream]:
    streams = [SessionStream(live.server, api.http) for _ in range(count)]
    await asyncio.gather(*(stream.open() for stream in streams))
    return streams


async def close_all(streams) -> None:
    await asyncio.gather(*(stream.close() for stream in streams))


async def staff_member(live, username: str, shop_ids: list[int]) -> tuple[int, LiveApi]:
    """A new staff user of the bakery, logged in with the first password changed."""
    created = await live.tenant.post(
        "/api/users",
        json={"username": username, "password": PASSWORD, "role": "staff", "shop_ids": shop_ids},
    )
    assert created.status_code == 201, created.text
    api = await LiveApi(live.server.url).login(username)
    body = {"current_password": PASSWORD, "new_password": f"{username} has a long secret"}
    assert (await api.post("/auth/password", json=body)).status_code == 204
    return created.json()["user"]["id"], api


async def door(live, shop_id: int) -> RawDevice:
    device_id, token = await live.tenant.create_device(shop_id)
    device = RawDevice(live.server.ws_url, (await live.tenant.register(token))["api_key"])
    device.id = device_id
    return device


def status_of(device) -> str:
    return f'hx-target="#door-{device.id}-status"'


def opened(device, messages) -> list[str]:
    """The messages showing the door opened, which the test's event was. Its hello may still
    be on its way to a stream as a status update of its own, and that one is no leak."""
    return [m for m in messages if status_of(device) in m and 'data-door-state="open"' in m]


async def test_logout_ends_all_streams_of_the_session_before_the_next_door_event(live):
    _, staff = await staff_member(live, "night-shift", [])
    async with await door(live, live.tenant_shop) as device:
        await device.hello()
        streams = await open_streams(live, staff, STREAMS)
        [admin_stream] = await open_streams(live, live.tenant, 1)
        try:
            assert (await staff.post("/auth/logout")).status_code == 204
            await device.send({"type": "event", "event": "state", "data": OPEN_STATE})
            sent = await asyncio.gather(*(stream.end() for stream in streams))
            assert opened(device, [m for messages in sent for m in messages]) == []
            await admin_stream.data_with(status_of(device), 'data-door-state="open"')
            assert (await staff.get("/events")).status_code == 401  # the reconnect backs off
        finally:
            await close_all([*streams, admin_stream])
            await staff.http.aclose()


@pytest.mark.parametrize(
    "change",
    [lambda shop_a: {"shop_ids": [shop_a]}, lambda shop_a: {"disabled": True}],
    ids=["limited to one shop", "disabled"],
)
async def test_an_admins_change_ends_that_users_streams_and_no_one_elses(live, change):
    annex = await live.tenant.create_shop("Bakery Annex")
    user_id, limited = await staff_member(live, "weekend-help", [live.tenant_shop, annex])
    _, colleague = await staff_member(live, "day-shift", [live.tenant_shop, annex])
    async with await door(live, annex) as device:
        await device.hello()
        theirs = await open_streams(live, limited, STREAMS // 5)
        others = await open_streams(live, colleague, STREAMS // 5)
        try:
            patched = await live.tenant.http.patch(
                f"/api/users/{user_id}",
                json=change(live.tenant_shop),
                headers={"X-CSRF-Token": live.tenant.csrf},
            )
            assert patched.status_code == 200, patched.text
            await device.send({"type": "event", "event": "state", "data": OPEN_STATE})
            sent = await asyncio.gather(*(stream.end() for stream in theirs))
            assert opened(device, [m for messages in sent for m in messages]) == []
            await asyncio.gather(*(stream.data_with(status_of(device)) for stream in others))
        finally:
            await close_all([*theirs, *others])
            await limited.http.aclose()
            await colleague.http.aclose()
