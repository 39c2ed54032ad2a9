"""The doors: the home page with every visible door, and one door's detail page."""

from __future__ import annotations

from quart import Blueprint

from ..auth import current_account
from ..models.audit import entries_visible_to
from ..models.device import get_device_for
from ..models.tenant import get_shop_for
from ..ratelimit import rate_limit
from .live import doors_by_shop
from .web import portal_page, render

blueprint = Blueprint("portal_doors", __name__)

RECENT_ENTRIES = 15


@blueprint.get("/")
@rate_limit("api_limit")
@portal_page()
async def index():
    """Every door the user may see, grouped by shop (htmx: just the list, for polling)."""
    user = current_account()
    groups = await doors_by_shop(user)
    return await render(
        "doors.html",
        "partials/_doors.html",
        groups=groups,
        can_open=user.has_role("staff"),
        is_admin=user.has_role("admin"),
    )


@blueprint.get("/doors/<int:door_id>")
@rate_limit("api_limit")
@portal_page()
async def show(door_id: int):
    """One door: state, open, override, config and its recent history (htmx: the panel)."""
    user = current_account()
    device = await get_device_for(user, door_id)
    shop = await get_shop_for(user, device.shop_id)
    entries = await entries_visible_to(user, device_id=door_id, limit=RECENT_ENTRIES)
    return await render(
        "door.html",
        "partials/_door_panel.html",
        door=device.to_dict(),
        shop=shop,
        entries=[entry.to_dict() for entry in entries],
        can_open=user.has_role("staff"),
        is_admin=user.has_role("admin"),
    )
