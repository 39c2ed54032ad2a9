"""The SSE stream: current state first, only visible doors, one render per language, drop slow."""

from __future__ import annotations

import asyncio

from sentra_tunnel.models.user import start_session
from sentra_tunnel.portal import i18n, stream
from sentra_tunnel.portal.live import RenderCache, Viewer, sse_message
from sentra_tunnel.tunnel.broker import device_deleted_event, device_event
from tests.portal.conftest import make_device


async def open_stream(app, user, door_id=None):
    """A DoorStream for `user` inside a request context, and its running generator."""
    _, session = await start_session(user, "test")
    context = app.test_request_context("/events")
    await context.push()
    i18n.use_language("de")
    door_stream = stream.DoorStream(user, session.id, door_id)
    return door_stream, door_stream.run(), context


async def next_message(generator, timeout=2.0) -> str:
    return await asyncio.wait_for(generator.__anext__(), timeout)


async def test_stream_starts_with_every_visible_door(app, tenant, other_tenant):
    own = await make_device(tenant)
    await make_device(other_tenant, name="Kiosk door")
    _, generator, context = await open_stream(app, tenant.admin)
    assert (await next_message(generator)).startswith("retry: ")
    first = await next_message(generator)
    assert f'id="door-{own.id}"' in first and "Kiosk door" not in first
    assert '<hx-partial hx-target="#doors" hx-swap="outerHTML">' in first
    assert all(line.startswith("data: ") for line in first.strip().splitlines())
    await generator.aclose()
    await context.pop()


async def test_stream_forwards_only_visible_events(app, tenant, other_tenant, monkeypatch):
    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.2)
    own = await make_device(tenant)
    other = await make_device(other_tenant, name="Kiosk door")
    elsewhere = await make_device(tenant, shop=tenant.shop_b, name="Shop B door")
    _, generator, context = await open_stream(app, tenant.staff)  # staff: shop A only
    await next_message(generator)
    await next_message(generator)
    broker = app.extensions["broker"]
    other.online = False
    elsewhere.online = False
    await broker.publish(device_event(other))
    await broker.publish(device_event(elsewhere))
    own.state = {**own.state, "door": "open"}
    await broker.publish(device_event(own))
    message = await next_message(generator)
    assert f'hx-target="#door-{own.id}-status"' in message and "Tür offen" in message
    await broker.publish(device_deleted_event(own))
    assert f'hx-target="#door-{own.id}" hx-swap="delete"' in await next_message(generator)
    assert (await next_message(generator)) == ": keepalive\n\n"
    await generator.aclose()
    await context.pop()


async def test_a_slow_stream_is_closed(app, tenant, monkeypatch):
    own = await make_device(tenant)
    _, generator, context = await open_stream(app, tenant.admin)
    await next_message(generator)
    await next_message(generator)
    broker = app.extensions["broker"]
    for _ in range(stream_queue_size() + 1):
        await broker.publish(device_event(own))
    messages = [message async for message in generator]
    assert messages == []  # overflowed: the stream ends, the browser reconnects
    await context.pop()


def stream_queue_size() -> int:
    from sentra_tunnel.tunnel.broker import SUBSCRIBER_QUEUE_SIZE

    return SUBSCRIBER_QUEUE_SIZE


async def test_one_render_per_language(app, tenant):
    device = await make_device(tenant)
    event = device_event(device)
    cache = RenderCache()
    async with app.test_request_context("/events"):
        for language in ("de", "de", "en", "de"):
            i18n.use_language(language)
            viewer = Viewer.of(tenant.staff)
            await cache.message(
                event, "door-1-status", "partials/_door_status.html", viewer, door=event["device"]
            )
    assert cache.renders == 2


async def test_streams_that_ask_at_once_share_one_render(app, tenant):
    """An event reaches every stream in the same moment: they must not all render it."""
    device = await make_device(tenant)
    event = device_event(device)
    cache = RenderCache()
    async with app.test_request_context("/events"):
        viewer = Viewer.of(tenant.staff)
        messages = await asyncio.gather(
            *(
                cache.message(
                    event, "t", "partials/_door_status.html", viewer, door=event["device"]
                )
                for _ in range(50)
            )
        )
    assert cache.renders == 1 and len(set(messages)) == 1
    assert messages[0].startswith('data: <hx-partial hx-target="#t"')


def test_multi_line_html_gets_one_data_line_each():
    assert sse_message("<a>\n<b>") == "data: <a>\ndata: <b>\n\n"
