"""The live stream: Server-Sent Events carrying rendered door partials for htmx's `hx-sse`.

On every (re)connect the stream first sends the current state of everything the page shows,
because events during a disconnect are lost. A stream that falls behind is closed; the browser
reconnects and starts again from the current state. A stream lives no longer than its session:
every change to its user's sessions or access reaches it through the broker (so on every node),
and it re-reads its session at once, ending or re-scoping itself.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from quart import (
    Blueprint,
    Response,
    current_app,
    request,
    stream_with_context,
)

from ..auth import current_account, current_session, require_login
from ..db import is_busy
from ..errors import APIError
from ..models.device import get_device_for
from ..models.user import session_user, user_listeners
from ..ratelimit import rate_limit
from ..tunnel import current_broker
from ..tunnel.broker import SubscriberTooSlow, user_changed_event
from .live import RenderCache, Viewer, doors_by_shop, event_device_id, partial, sse_message
from .web import int_or_none, portal_page

blueprint = Blueprint("portal_stream", __name__)

KEEPALIVE_S = 15.0  # also the longest a session ended elsewhere (the command line) keeps a stream
RETRY_MS = 1000
USER_CHANGED = "user_changed"


def render_cache() -> RenderCache:
    return current_app.extensions.setdefault("portal_render_cache", RenderCache())


@blueprint.before_app_serving
async def tell_streams_of_user_changes() -> None:
    events = current_broker()

    def tell(user_id: int) -> None:
        events.publish_nowait(user_changed_event(user_id))

    current_app.extensions["stream_user_listener"] = tell
    user_listeners.append(tell)


@blueprint.after_app_serving
async def stop_telling_streams() -> None:
    tell = current_app.extensions.pop("stream_user_listener", None)
    if tell in user_listeners:
        user_listeners.remove(tell)


@blueprint.get("/events")
@rate_limit("api_limit")
# 401, not the login redirect: a reconnect's fetch would follow it, read the login page as an
# empty stream and come back every second, where a failed status makes htmx back off to 60 s.
@require_login
@portal_page()
async def events():
    """Live door partials as SSE: all visible doors, or one with `?door=<id>`."""
    user = current_account()
    door_id = int_or_none(request.args.get("door"))
    if door_id is not None:
        await get_device_for(user, door_id)  # another tenant's door: 404 before streaming
    stream = DoorStream(user, current_session().id, door_id)
    response = Response(
        stream_with_context(stream.run)(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # a stream lives as long as the page does
    return response


class DoorStream:
    """One browser's stream: the language is decided when it opens, the filter whenever its user
    changes."""

    def __init__(self, user, session_id: str, door_id: int | None):
        self.user = user
        self.session_id = session_id
        self.door_id = door_id
        self.viewer = Viewer.of(user)
        self.registered: dict[int, bool] = {}  # door id → registered, as the page shows it
        self.lifetime = timedelta(seconds=current_app.config["SETTINGS"].session_lifetime)

    def accepts(self, event: dict) -> bool:
        if event.get("type") == USER_CHANGED:
            return event.get("user_id") == self.user.id
        if not self.viewer.may_see(event):
            return False
        return self.door_id is None or event_device_id(event) == self.door_id

    async def run(self):
        async with current_broker().subscribe(self.accepts) as subscription:
            yield f"retry: {RETRY_MS}\n\n"
            try:
                yield await self.current_state()
                async for message in self.messages(subscription):
                    yield message
            except Exception as error:
                if not (is_busy(error) or (isinstance(error, APIError) and error.status == 404)):
                    raise
                # Ending is the answer to a busy database, and to a door that is gone or out of
                # sight: the browser reconnects after `retry` and starts again from the current
                # state (or gets its 404).

    async def messages(self, subscription):
        """The stream's messages; its session is re-read when its user changes, and at least
        every KEEPALIVE_S, quiet or busy (a session may end in another process)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + KEEPALIVE_S
        while True:
            try:
                async with asyncio.timeout_at(due):
                    event = await subscription.next()
            except TimeoutError:
                event = None
            except SubscriberTooSlow:
                return
            changed = event is not None and event["type"] == USER_CHANGED
            if event is not None and not changed:
                if self.accepts(event):  # queued before a change that narrowed the scope
                    yield await self.message_for(event)
                if loop.time() < due:
                    continue
            due = loop.time() + KEEPALIVE_S
            rescoped = await self.rescope()
            if rescoped is None:
                return
            if rescoped:
                yield await self.current_state()  # doors now out of sight disappear
            elif not changed:
                yield ": keepalive\n\n"

    async def rescope(self) -> bool | None:
        """Re-read the session and its user past every cache: None when the stream must end
        (session ended, user disabled or deleted), else whether the user's access changed."""
        user = await session_user(self.session_id, lifetime=self.lifetime)
        if user is None:
            return None
        viewer = self.viewer.rescoped(user)
        rescoped, self.user, self.viewer = viewer != self.viewer, user, viewer
        return rescoped

    async def current_state(self) -> str:
        """The SSE message that replaces everything the page shows."""
        if self.door_id is not None:
            door = (await get_device_for(self.user, self.door_id)).to_dict()
            return await self.message(
                _summary(door), f"door-{self.door_id}-panel", "partials/_door_panel.html", door=door
            )
        groups = await doors_by_shop(self.user)
        self.registered = {door["id"]: door["registered"] for _, doors in groups for door in doors}
        summary = tuple((shop.id, shop.name, _summary(doors)) for shop, doors in groups)
        return await self.message(summary, "doors", "partials/_doors.html", groups=groups)

    async def message_for(self, event: dict) -> str:
        device_id = event_device_id(event)
        if event["type"] == "device_deleted":
            self.registered.pop(device_id, None)
            target = f"door-{device_id}-panel" if self.door_id else f"door-{device_id}"
            return sse_message(partial(target, "<div></div>", swap="delete"))
        door = event["device"]
        if self.door_id is not None:
            panel = f"door-{device_id}-panel"
            return await self.message(event, panel, "partials/_door_panel.html", door=door)
        if device_id not in self.registered:
            return await self.current_state()  # a new door: the list changes shape
        if self.registered[device_id] != door["registered"]:
            self.registered[device_id] = door["registered"]  # the open button comes or goes
            card = f"door-{device_id}"
            return await self.message(event, card, "partials/_door_card.html", door=door)
        status = f"door-{device_id}-status"
        return await self.message(event, status, "partials/_door_status.html", door=door)

    async def message(self, anchor, target: str, template: str, **context) -> str:
        return await render_cache().message(anchor, target, template, self.viewer, **context)


def _summary(shown) -> str:
    """What a page shows, as a cache key: equal summaries render to equal HTML."""
    return json.dumps(shown, sort_keys=True, default=str)
