"""Live door partials: who may see which event, and each partial rendered once per language.

A device event goes to every open stream that may see it. Streams that render the same partial
for the same language, zone and permissions share one render through a small cache keyed by the
event object itself.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, replace

from quart import render_template

from ..models.device import devices_visible_to
from ..models.tenant import shops_visible_to
from . import i18n

CACHE_SIZE = 256


@dataclass(frozen=True)
class Viewer:
    """What decides which events a stream receives and how they look: the page's language and
    zone, fixed at connect, and the user's access, rebuilt whenever the user changes."""

    tenant_id: int | None
    shop_ids: tuple[int, ...]
    can_open: bool
    is_admin: bool
    language: str
    timezone: str

    @classmethod
    def of(cls, user) -> Viewer:
        return cls(
            **_access(user),
            language=i18n.current_language(),
            timezone=i18n.current_timezone_name(),
        )

    def rescoped(self, user) -> Viewer:
        """The same page with `user`'s access as it is now."""
        return replace(self, **_access(user))

    def may_see(self, event: dict) -> bool:
        if event.get("type") not in ("device", "device_deleted"):
            return False
        if self.tenant_id is not None and event.get("tenant_id") != self.tenant_id:
            return False
        return not self.shop_ids or event.get("shop_id") in self.shop_ids

    @property
    def render_key(self) -> tuple:
        """Viewers with equal keys see identical HTML. Tenant and shops decide which doors go into
        a message, never how one looks; a re-scoped viewer is keyed by its rights of now."""
        return (self.language, self.timezone, self.can_open, self.is_admin)

    def activate(self) -> None:
        """Render in this viewer's language and time zone from here on (this task only)."""
        i18n.use_language(self.language)
        i18n.use_timezone(self.timezone)


def _access(user) -> dict:
    return {
        "tenant_id": user.tenant_id,
        "shop_ids": tuple(user.shop_ids or ()),
        "can_open": user.has_role("staff"),
        "is_admin": user.has_role("admin"),
    }


def event_device_id(event: dict):
    if event.get("type") == "device_deleted":
        return event.get("device_id")
    return (event.get("device") or {}).get("id")


class RenderCache:
    """Each SSE message rendered once per anchor and kind of viewer, shared by every stream.

    The anchor is the event itself (by identity: holding it keeps `id(event)` from being reused)
    or a hashable summary of what a page shows (by value). The first stream to need a message
    starts the render and the others await that same render: an event reaches every stream at
    once, so looking for a finished one would find none.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[tuple, tuple[object, asyncio.Future]] = OrderedDict()
        self.renders = 0

    async def message(self, anchor, target: str, template: str, viewer: Viewer, **context) -> str:
        by_identity = isinstance(anchor, dict)
        key = (id(anchor) if by_identity else anchor, target, template, viewer.render_key)
        cached = self.entries.get(key)
        if cached is None or (by_identity and cached[0] is not anchor):
            rendering = asyncio.ensure_future(self._render(target, template, viewer, context))
            cached = self.entries[key] = (anchor, rendering)
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        rendering = cached[1]
        return rendering.result() if rendering.done() else await asyncio.shield(rendering)

    async def _render(self, target: str, template: str, viewer: Viewer, context: dict) -> str:
        viewer.activate()
        self.renders += 1
        html = await render_template(
            template, can_open=viewer.can_open, is_admin=viewer.is_admin, **context
        )
        return sse_message(partial(target, html))


def sse_message(html: str) -> str:
    """One unnamed SSE message; every line of the HTML gets its own `data:` line."""
    lines = html.strip().splitlines() or [""]
    return "".join(f"data: {line}\n" for line in lines) + "\n"


def partial(target: str, html: str, swap: str = "outerHTML") -> str:
    return f'<hx-partial hx-target="#{target}" hx-swap="{swap}">\n{html.strip()}\n</hx-partial>'


async def doors_by_shop(user) -> list[tuple]:
    """[(shop, [device dict, ...]), ...] for every shop the user sees that has doors."""
    devices = await devices_visible_to(user)
    shops = {shop.id: shop for shop in await shops_visible_to(user)}
    grouped: dict[int, list[dict]] = {}
    for device in devices:
        grouped.setdefault(device.shop_id, []).append(device.to_dict())
    return [(shops[shop_id], grouped[shop_id]) for shop_id in grouped if shop_id in shops]
